"""``rekam``: the kit's command line, for technicians (often over a slow SSH link) and scripts.

Every command takes ``--home DIR`` (or ``$REKAM_HOME``). PINs come from a no-echo prompt, or
from ``$REKAM_PIN`` (the acting operator) and ``$REKAM_NEW_PIN`` (a new operator) in scripts.

This module builds the parser and runs a command; the commands live by group, each wired
with one call: :mod:`rekam.setup_cli` (provision, firstboot, logs, status, config),
:mod:`rekam.recording_cli` (operator, roster, enrol, doctor), :mod:`rekam.outbox_cli`
(outbox, export, import-receipt, wipe, audit), then ``sync`` (:mod:`sync.cli`) and ``tui``
(:mod:`tui.run`). What they share is in :mod:`rekam.cli_common`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from edge.cli_support import command_parser, fail, run
from edge.errors import WorklistExpired
from rekam import outbox_cli, recording_cli, setup_cli
from rekam.bootstrap import kit_home, open_kit_devices, ui_services
from rekam.cli_common import open_home_kit


def cmd_sync(args: argparse.Namespace) -> int:
    from sync.cli import run_sync

    return run_sync(kit_home(args.home), args)


def cmd_tui(args: argparse.Namespace) -> int:

    from tui.run import run_app

    with open_home_kit(args) as kit:
        # The operator's screen is the terminal: a fallback's sentence goes to tui.log.
        notify = logging.getLogger("rekam.tui").warning
        return run_app(ui_services(kit, lambda: open_kit_devices(
            kit, sim=args.sim, seed=args.seed, notify=notify)), args)


# --- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser, add = command_parser("rekam", "Rekam e-KTP recording kit.",
                                 "the kit's state directory (default: $REKAM_HOME)")

    setup_cli.add_commands(add)  # provision, firstboot, logs, status, config
    recording_cli.add_commands(add)  # operator, roster, enrol, doctor
    outbox_cli.add_commands(add)  # outbox, export, import-receipt, wipe, audit

    from sync.cli import add_arguments as add_sync_arguments  # MQTT uplink (issue 4)

    p = add("sync", cmd_sync, "send sealed packets to HQ; take HQ's acks, worklists, config")
    add_sync_arguments(p)

    from tui.run import add_arguments as add_tui_arguments  # operator UI (issue 5)

    p = add("tui", cmd_tui, "the operator's screens (Textual), on the console or over SSH")
    add_tui_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # --home may come before or after the command; argparse shares the action between the
    # parsers, so its default is set here rather than with set_defaults (which would leak).
    args.home = getattr(args, "home", None)
    return run(_said_to_operators(args.handler), args)


def _said_to_operators(handler: Any) -> Any:
    """Refusals an operator must understand at once (an expired worklist) in the
    catalogue's words, Bahasa Indonesia then English, as the operator UI says them."""

    def said(args: argparse.Namespace) -> int | None:
        try:
            result: int | None = handler(args)
            return result
        except WorklistExpired as exc:
            from tui.catalogue import Catalogue

            return fail(" / ".join(Catalogue(lang).error(exc)[1] for lang in ("id", "en")))

    return said


if __name__ == "__main__":
    sys.exit(main())
