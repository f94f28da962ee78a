"""HQ test helpers: both databases, and an HQ home driven through the real ``rekam-hq``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hq.db import make_engine

both = pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres",
                                                                 marks=pytest.mark.postgres)],
                               indirect=True)


@dataclass
class Hq:
    home: Path
    url: str
    tmp: Path
    run: Callable[..., int]
    out: Callable[[], tuple[str, str]]
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine
