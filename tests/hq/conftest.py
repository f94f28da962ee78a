"""HQ tests reuse the fake SBI device of the hardware tests (its PKI and signed captures)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hal"))
