"""What the kit's command modules share: the kit opened from ``--home`` (or ``$REKAM_HOME``),
an operator logged in with a PIN from a no-echo prompt or ``$REKAM_PIN`` (``$REKAM_NEW_PIN``
for a new operator, ``$REKAM_OPERATOR`` for who is acting), and stored times shown in WIB."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from edge.cli_support import read_secret
from edge.clock import wib
from edge.errors import InvalidInput, RekamError
from edge.kit import Kit, open_kit
from edge.operators import Session
from rekam.bootstrap import kit_home

PIN_ENV = "REKAM_PIN"
NEW_PIN_ENV = "REKAM_NEW_PIN"
OPERATOR_ENV = "REKAM_OPERATOR"


def wib_iso(stored: str | None) -> str:
    """A stored ISO time (UTC) as the technician reads it: in WIB, saying so."""
    return wib(datetime.fromisoformat(stored)) if stored else "-"


def open_home_kit(args: argparse.Namespace) -> Kit:
    return open_kit(kit_home(args.home))


def login(kit: Kit, operator_id: str | None) -> Session:
    import os

    operator_id = operator_id or os.environ.get(OPERATOR_ENV)
    if not operator_id:
        raise InvalidInput(f"say who you are: --operator ID (or set {OPERATOR_ENV})")
    pin = read_secret(f"PIN for {operator_id}: ", PIN_ENV)
    session = kit.login(operator_id, pin)
    # A worklist the sync daemon received while nobody was logged in is applied now.
    try:
        applied = kit.apply_pending_worklist(session)
    except RekamError as exc:  # dropped and reported to HQ; the operator can still work
        print(f"warning: the worklist received from HQ was refused: {exc}", file=sys.stderr)
        applied = None
    if applied is not None:
        print(f"applied the worklist received from HQ: {applied} residents", file=sys.stderr)
    return session
