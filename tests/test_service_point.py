"""Today's service point and queue numbers: kept across restarts, started afresh each day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from edge.roster import ScheduleEntry
from edge.service_point import DayBook, PlaceType, ServicePoint, expected_rws

MON, TUE = date(2026, 11, 23), date(2026, 11, 24)


def test_the_service_point_holds_for_the_day_it_was_set(tmp_path: Path) -> None:
    book = DayBook(tmp_path)
    point = book.set_service_point(
        ServicePoint(PlaceType.BALAI_RW, "32.75.01.1001", " 5", "Balai RW 005"), MON)
    assert point.rw == "005" and point.day == MON.isoformat()
    assert DayBook(tmp_path).service_point(MON) == point  # a restart keeps it
    assert book.service_point(TUE) is None  # a new day asks again
    assert book.last_service_point() == point  # and offers yesterday's as a start


def test_queue_numbers_count_up_and_start_again_each_day(tmp_path: Path) -> None:
    book = DayBook(tmp_path)
    assert [book.call_next(MON) for _ in range(3)] == [1, 2, 3]
    assert book.queue(MON) == (3, 3)
    assert book.call_next(TUE) == 1


def test_a_damaged_state_file_starts_an_empty_day(tmp_path: Path) -> None:
    (tmp_path / "tui-state.json").write_text("{not json")
    assert DayBook(tmp_path).service_point(MON) is None
    assert DayBook(tmp_path).call_next(MON) == 1


def test_expected_rws_come_from_the_point_else_todays_schedule() -> None:
    schedule = [ScheduleEntry(MON, "Balai RW 002", "32.75.01.1001", "002"),
                ScheduleEntry(MON, "SDN 3", "32.75.01.1001", "007"),
                ScheduleEntry(TUE, "Balai RW 009", "32.75.01.1001", "009")]
    point = ServicePoint(PlaceType.SCHOOL, "32.75.01.1001", "004", "SMPN 1", MON.isoformat())
    assert expected_rws(point, schedule, MON) == ("004",)
    assert expected_rws(None, schedule, MON) == ("002", "007")
    assert expected_rws(None, schedule, date(2026, 12, 1)) == ()
