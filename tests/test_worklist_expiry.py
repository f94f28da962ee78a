"""After its worklist expires a kit refuses search and recording and says why; after HQ's
grace period (``roster_grace_days``) it wipes the roster, with no PIN, and tells HQ."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from kit_world import DEVICE, KELURAHAN, OPERATOR_PIN, SUPERVISOR_PIN

from edge.clock import FakeClock
from edge.config import check_remote_settings
from edge.errors import InvalidInput, NotAllowed, RosterWiped, WorklistExpired
from edge.kit import Kit
from edge.operators import KdfParams


def _kit(world, when: datetime) -> Kit:
    return Kit(world.kit_home, clock=FakeClock(when), kdf=KdfParams.FAST_FOR_TESTS)


def _expires(world) -> datetime:
    with Kit(world.kit_home) as kit:
        expires, _ = kit.roster_expiry()
    assert expires is not None
    return expires


def _a_resident(world) -> dict[str, str]:
    with world.csv.open(encoding="utf-8-sig") as fh:
        return next(r for r in csv.DictReader(fh) if r["kode_kelurahan"] == KELURAHAN)


def test_an_expired_worklist_stops_search_and_recording_until_a_new_one(world):
    expires = _expires(world)
    person = _a_resident(world)
    with _kit(world, expires - timedelta(minutes=1)) as kit:
        session = kit.login("budi", OPERATOR_PIN)
        assert kit.search(session, person["nik"])  # the last minute still works
    with _kit(world, expires + timedelta(seconds=1)) as kit:
        session = kit.login("budi", OPERATOR_PIN)
        with pytest.raises(WorklistExpired, match=r"expired on .* refused"):
            kit.search(session, person["nama"])
        with pytest.raises(WorklistExpired):
            kit.start_enrolment(session, person["nik"], devices=None)  # type: ignore[arg-type]
        assert kit.roster_expiry()[1] == expires + timedelta(days=7)  # HQ's default grace
        assert kit.paths.roster_db.exists()  # kept through the grace period
    # A new worklist from HQ lifts it.
    assert world.hq("worklist", DEVICE, "--from", str(world.csv), "--days", "40", "-o",
                    str(world.tmp / "v2.worklist")) == 0
    with Kit(world.kit_home, kdf=KdfParams.FAST_FOR_TESTS) as kit:
        session = kit.login("budi", OPERATOR_PIN)
        kit.import_worklist((world.tmp / "v2.worklist").read_bytes(), session)
        new_expiry = kit.roster_expiry()[0]
    assert new_expiry is not None and new_expiry > expires
    with _kit(world, expires + timedelta(seconds=1)) as kit:
        assert kit.search(kit.login("budi", OPERATOR_PIN), person["nik"])


def test_the_roster_is_wiped_after_hqs_grace_without_a_pin_and_hq_is_told(world):
    from sync.downlink import unreported_apply_result

    expires = _expires(world)
    person = _a_resident(world)
    with _kit(world, expires + timedelta(days=6, hours=23)) as kit:
        assert kit.paths.roster_db.exists()
    with _kit(world, expires + timedelta(days=7, seconds=1)) as kit:  # merely opened
        assert not kit.paths.roster_db.exists()
        assert not list(kit.paths.roster_db.parent.glob("roster.db*"))
        assert kit.status().roster_size == 0
        report = unreported_apply_result(kit)
        assert report is not None and (report.subject, report.result) == ("worklist", "wiped")
        assert "expired on" in report.detail
        assert [e.action for e in kit.audit.entries()][-1] == "roster_wiped"
        session = kit.login("budi", OPERATOR_PIN)
        with pytest.raises(RosterWiped, match="wiped"):
            kit.search(session, person["nik"])
    text = b"".join(p.read_bytes() for p in world.kit_home.rglob("*") if p.is_file())
    assert person["nik"].encode() not in text


def test_the_grace_period_is_hqs_setting_and_range_checked(world):
    assert check_remote_settings({"roster_grace_days": "0"}) == {"roster_grace_days": 0}
    for bad in ("91", "-1", "seven"):
        with pytest.raises(InvalidInput, match="roster_grace_days"):
            check_remote_settings({"roster_grace_days": bad})
    with Kit(world.kit_home) as kit, pytest.raises(NotAllowed, match="decided by HQ"):
        kit.set_setting("roster_grace_days", "90", operator_id="siti", pin=SUPERVISOR_PIN)


def _age_the_worklist(world, days: float) -> None:
    """The kit's clock moved on: its worklist expired ``days`` ago (the state CLI reads)."""
    when = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    with sqlite3.connect(world.kit_home / "kit.db") as conn:
        conn.execute("UPDATE kit_state SET value = ? WHERE key = 'roster_expires_at'", (when,))


def test_the_cli_says_why_in_indonesian_and_english(world, capsys):
    person = _a_resident(world)
    _age_the_worklist(world, 1)
    assert world.kit("roster", "search", person["nama"], pin=OPERATOR_PIN) == 1
    err = capsys.readouterr().err
    assert "Daftar warga dari pusat sudah kedaluwarsa sejak" in err
    assert "The resident list from HQ expired on" in err
    assert person["nama"] not in err
    assert world.kit("enrol", "--nik", person["nik"], "--sim", pin=OPERATOR_PIN) == 1
    assert "pencarian dan perekaman ditolak" in capsys.readouterr().err
    assert world.kit("status") == 0
    assert "EXPIRED" in capsys.readouterr().out
