"""Constants and helpers shared by the kit's tests (a uniquely named module: ``conftest``
is ambiguous once a sub-folder has its own)."""

from __future__ import annotations

import json

SUPERVISOR_PIN = "483920"
OPERATOR_PIN = "571846"
KELURAHAN = "32.75.01.1001"
DEVICE = "kit-test-01"


def read_json(capsys) -> object:  # type: ignore[no-untyped-def]
    return json.loads(capsys.readouterr().out)
