"""The evaluation report's figures (``rekam-hq report`` and the dashboard's downloads): one
:class:`Evaluation` gathered by :func:`evaluate`, and the forms of it that more than one
format shows (a coverage row as the flat formats and Excel carry it, a kit's state and each
delivery mark in Bahasa Indonesia, a kit's output in the period).

The renderers only lay it out, so the formats always agree: :mod:`hq.monitoring.report`
(table, CSV, JSON, and :data:`~hq.monitoring.report.RENDERERS` for every format),
:mod:`hq.monitoring.report_xlsx` (Excel) and :mod:`hq.monitoring.report_pdf` (PDF).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from edge import regions
from edge.errors import InvalidInput, NotFound
from hq.monitoring import coverage, flagged, invitations, output
from hq.monitoring.kits import KitState, kit_states

BY = ("kota", "kecamatan", "kelurahan", "rw")
TARGET = 0.95
FLAGGED_LISTED = 1000  # flagged recordings listed one by one (JSON, Excel); the PDF, 30

COLUMNS_ID = {  # the column headers people read (Bahasa Indonesia first)
    "kode": "Kode", "wilayah": "Wilayah", "rw": "RW", "wajib_rekam": "Wajib rekam",
    "sudah_rekam": "Sudah rekam", "cakupan": "Cakupan", "belum_rekam": "Belum rekam",
    "direkam_dalam_periode": "Direkam dalam periode", "perubahan_basis": "Perubahan basis",
}

HEADERS = ("kode", "wilayah", "rw", "wajib_rekam", "sudah_rekam", "cakupan", "belum_rekam",
           "direkam_dalam_periode", "perubahan_basis")

MARK_LABELS = {"delivered": "Diterima", "not-found": "Tidak ditemukan", "moved": "Pindah",
               "died": "Meninggal", "refused": "Menolak"}


@dataclass(frozen=True)
class Evaluation:
    generated_at: datetime
    period: coverage.Period
    first_day: date  # the period's first day (its start, else the register's first day)
    within: coverage.Area
    by: str
    total: coverage.Figures
    rows: list[coverage.Figures]
    kecamatan: list[coverage.Figures]
    kelurahan: list[coverage.Figures]
    series: list[coverage.Point]
    weekly: bool
    kits: list[KitState] = field(default_factory=list)
    target: float = TARGET
    funnel: invitations.Funnel | None = None
    funnel_rows: list[invitations.Funnel] = field(default_factory=list)
    output: output.Output | None = None  # each kit's and operator's recordings per day
    flagged: flagged.Flagged | None = None  # the review queue as it stands now


def _area(kecamatan: str | None, kelurahan: str | None) -> coverage.Area:
    if kecamatan and kelurahan:
        raise InvalidInput("give --kecamatan or --kelurahan, not both")
    if kelurahan:
        return coverage.Area("kelurahan", regions.find(kelurahan, "kelurahan").code)
    if kecamatan:
        return coverage.Area("kecamatan", regions.find(kecamatan, "kecamatan").code)
    return coverage.KOTA


def evaluate(engine: Engine, *, by: str, kecamatan: str | None = None,
             kelurahan: str | None = None, start: date | None = None, end: date | None = None,
             today: date | None = None, now: datetime | None = None) -> Evaluation:
    """Every figure of the report. Clear errors for a level above the area asked for, a
    period that ends before it starts or lies in the future, an unknown area, and an area
    or period with nothing on the register."""
    from hq.monitoring.views import today as wib_today

    if by not in BY:
        raise InvalidInput(f"--by is one of {', '.join(BY)}")
    within = _area(kecamatan, kelurahan)
    if BY.index(by) < coverage.LEVELS.index(within.level):
        raise InvalidInput(f"--by {by} is above the {within.level} asked for; use --by "
                           f"{within.level} or a level below it")
    today = today or wib_today()
    end = end or today
    if end > today:
        raise InvalidInput(f"the period ends in the future ({end}); today is {today}")
    period = coverage.Period(start, end)
    span = coverage.data_span(engine, within)
    if span is None:
        raise NotFound(f"nothing on the register for {within.name}: import residents first "
                       "(rekam-hq residents import)")
    if span[0] > end:
        raise NotFound(f"no data for {within.name} up to {end}: the register starts on "
                       f"{span[0]}")
    first = start or span[0]
    weekly = (end - first).days > 62
    total = coverage.total(engine, within, period)
    rows = coverage.figures(engine, within, by, period)
    kec = coverage.figures(engine, within, "kecamatan", period) if within.level == "kota" \
        else []
    kel = coverage.figures(engine, within, "kelurahan", period) \
        if within.level in ("kota", "kecamatan") else []
    points = coverage.series(engine, within, coverage.Period(first, end), weekly=weekly)
    kits = kit_states(engine, area=None if within.level == "kota" else within.code)
    funnel = invitations.total(engine, within, period)
    funnel_rows = invitations.funnel(engine, within, by, period)
    made = output.output(engine, within, first, end)
    queue = flagged.waiting(engine, within, limit=FLAGGED_LISTED)
    return Evaluation(now or datetime.now(UTC), period, first, within, by, total, rows, kec,
                      kel, points, weekly, kits, funnel=funnel, funnel_rows=funnel_rows,
                      output=made, flagged=queue)


# --- the forms more than one format shows ----------------------------------------------------


def row(f: coverage.Figures) -> list[Any]:
    """One area's figures in the order of :data:`HEADERS` (CSV, the table, Excel)."""
    a = f.area
    name = f"{regions.get(a.code).name} RW {a.rw}" if a.level == "rw" else a.name
    return [a.code, name, a.rw, f.must_record, f.recorded,
            None if f.coverage is None else round(f.coverage, 4), f.remaining,
            f.recorded_in_period, f.base_change]


def kit_output(ev: Evaluation, device_id: str) -> output.OutputRow:
    """What a kit recorded in the period (a row of zeros for a kit that recorded nothing)."""
    found = ev.output.kit(device_id) if ev.output else None
    days = len(ev.output.days) if ev.output else 0
    return found or output.OutputRow(device_id, "", [0] * days, [0] * days, is_kit=True)


def state_id(k: KitState) -> str:
    """A kit's state in Bahasa Indonesia (Excel, PDF)."""
    if k.state == "silent":
        return f"diam {k.silent_days} hari" if k.silent_days else f"diam {k.silent_hours} jam"
    return {"online": "daring", "late": "terlambat", "offline": "luring",
            "never": "belum pernah melapor", "revoked": "dicabut"}[k.state]
