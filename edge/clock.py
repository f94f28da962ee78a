"""The clock port: everything in the core that needs "now" takes a ``Clock``.

Production code passes :func:`utc_now`; tests pass a :class:`FakeClock` and move it by hand,
so lockouts, grace periods and expiry can be tested without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7), "WIB")
"""Kota Bekasi's time zone (UTC+7, no daylight saving): what "today" means at a service point."""

Clock = Callable[[], datetime]
"""A zero-argument callable returning the current time as an aware ``datetime``."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"FakeClock needs an aware datetime, got naive {when.isoformat()}")
    return when


class FakeClock:
    """A clock that stands still until told to move. For tests and simulations.

    >>> clock = FakeClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    >>> clock.advance(timedelta(minutes=5)).isoformat()
    '2026-11-24T08:05:00+00:00'
    """

    DEFAULT_START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _aware(start if start is not None else self.DEFAULT_START)

    def __call__(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (backwards too: a kit's real clock can be wrong after a reboot)."""
        self._now = _aware(when)

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            raise ValueError("advance() moves forward; use set() to go back in time")
        self._now += delta
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"


def wib(when: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time (kept in UTC) as a person reads it, on the kit or at HQ: in Bekasi's
    time zone, and saying so ("2026-11-24 15:05 WIB"). A naive time is taken as UTC (what
    SQLite hands back of an aware one); no time at all is "-"."""
    if when is None:
        return "-"
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=UTC)
    return f"{when.astimezone(WIB):{fmt}} WIB"
