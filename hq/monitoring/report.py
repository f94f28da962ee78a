"""``rekam-hq report``: the periodic evaluation report for the Wali Kota, as a table, CSV
(UTF-8 with BOM, for Excel), JSON, an Excel workbook (XlsxWriter) or a PDF (Typst, with
matplotlib's charts drawn to SVG).

One :class:`Evaluation` holds every figure; the renderers only lay it out, so the formats
always agree.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from edge import regions
from edge.errors import InvalidInput, NotFound
from hq.monitoring import coverage, flagged, invitations, output
from hq.monitoring.kits import KitState, kit_states
from hq.monitoring.text import shown

BY = ("kota", "kecamatan", "kelurahan", "rw")
TARGET = 0.95
FLAGGED_LISTED = 1000  # flagged recordings listed one by one (JSON, Excel); the PDF, 30
FLAGGED_IN_PDF = 30

COLUMNS_ID = {  # the column headers people read (Bahasa Indonesia first)
    "kode": "Kode", "wilayah": "Wilayah", "rw": "RW", "wajib_rekam": "Wajib rekam",
    "sudah_rekam": "Sudah rekam", "cakupan": "Cakupan", "belum_rekam": "Belum rekam",
    "direkam_dalam_periode": "Direkam dalam periode", "perubahan_basis": "Perubahan basis",
}


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


# --- rows as the flat formats carry them --------------------------------------------------------

HEADERS = ("kode", "wilayah", "rw", "wajib_rekam", "sudah_rekam", "cakupan", "belum_rekam",
           "direkam_dalam_periode", "perubahan_basis")


def _row(f: coverage.Figures) -> list[Any]:
    a = f.area
    name = f"{regions.get(a.code).name} RW {a.rw}" if a.level == "rw" else a.name
    return [a.code, name, a.rw, f.must_record, f.recorded,
            None if f.coverage is None else round(f.coverage, 4), f.remaining,
            f.recorded_in_period, f.base_change]


def to_table(ev: Evaluation) -> tuple[list[str], list[list[str]]]:
    rows = []
    for f in [*ev.rows, ev.total] if len(ev.rows) > 1 else ev.rows:
        r = _row(f)
        if f is ev.total:
            r[0], r[1], r[2] = "", "JUMLAH", ""
        r[5] = "—" if r[5] is None else f"{100 * r[5]:.1f}%"
        rows.append([str(x) for x in r])
    return [COLUMNS_ID[h] for h in HEADERS], rows


def to_csv(ev: Evaluation) -> bytes:
    """UTF-8 with a BOM (Excel then reads the names right), comma separated, one header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for f in ev.rows:
        writer.writerow(["" if x is None else x for x in _row(f)])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def to_json(ev: Evaluation) -> bytes:
    data = {
        "judul": "Laporan Evaluasi Penuntasan Wajib Rekam KTP-el",
        "dibuat": ev.generated_at.isoformat(timespec="seconds"),
        "periode": {"dari": ev.first_day.isoformat(), "sampai": ev.period.end.isoformat()},
        "wilayah": {"tingkat": ev.within.level, "kode": ev.within.code, "nama": ev.within.name},
        "per": ev.by,
        "jumlah": ev.total.to_dict(),
        "baris": [f.to_dict() for f in ev.rows],
        "kemajuan": [{"tanggal": p.day.isoformat(), "wajib_rekam": p.must_record,
                      "sudah_rekam": p.recorded, "direkam": p.recorded_that_day}
                     for p in ev.series],
        "per_minggu": ev.weekly,
        "undangan": None if ev.funnel is None else {
            "jumlah": ev.funnel.to_dict(), "baris": [f.to_dict() for f in ev.funnel_rows]},
        "kit": [{"kit": k.device_id, "keadaan": k.state, "antrean": k.queue_depth,
                 "paket": k.packets, "kit_latihan": k.training,
                 "laporan_terakhir": k.last_heartbeat.isoformat() if k.last_heartbeat
                 else None, "perekaman": _kit_output(ev, k.device_id).tally.to_dict()}
                for k in ev.kits],
        "perekaman": None if ev.output is None else {
            **ev.output.to_dict(),
            "per_hari": [{"tanggal": day.isoformat(), "kit": kit, "operator": op,
                          "putusan": state, "jumlah": n}
                         for day, kit, op, state, n in ev.output.daily]},
        "ditandai": None if ev.flagged is None else {
            "menunggu_tinjauan": ev.flagged.waiting,
            "dari_kit_latihan": ev.flagged.training,
            "tertua": ev.flagged.oldest.isoformat() if ev.flagged.oldest else None,
            "per_tanda": {code: n for code, n in ev.flagged.by_flag},
            "daftar": [_flagged_json(i) for i in ev.flagged.items]},
    }
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _flagged_json(item: Any) -> dict[str, Any]:
    """One flagged recording as the report carries it: where, when, by whom and why; not
    who (the report goes beyond the supervisors; rekam-hq review list names the resident)."""
    return {"tinjauan": item.id, "direkam": item.recorded_at.isoformat(),
            "kit": item.device_id, "operator": item.operator_id,
            "kode_kelurahan": item.kelurahan, "rw": item.rw, "kit_latihan": item.training,
            "tanda": [str(f.get("code", "")) for f in item.flags]}


def _kit_output(ev: Evaluation, device_id: str) -> output.OutputRow:
    found = ev.output.kit(device_id) if ev.output else None
    days = len(ev.output.days) if ev.output else 0
    return found or output.OutputRow(device_id, "", [0] * days, [0] * days, is_kit=True)


# --- Excel ------------------------------------------------------------------------------------


def to_xlsx(ev: Evaluation) -> bytes:
    """One sheet per level (kecamatan, kelurahan, the --by level), a summary and a daily
    progress sheet: typed numbers and dates, percentage formats, frozen headers, an
    autofilter, and native Excel charts."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties({"title": "Laporan Evaluasi Penuntasan Wajib Rekam KTP-el",
                         "author": "Disdukcapil Kota Bekasi", "created": ev.generated_at
                         .replace(tzinfo=None)})
    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#DDE5F0", "border": 1,
                            "text_wrap": True, "valign": "top"})
    pct = book.add_format({"num_format": "0.0%"})
    num = book.add_format({"num_format": "#,##0"})
    day = book.add_format({"num_format": "dd-mm-yyyy"})
    title = book.add_format({"bold": True, "font_size": 14})

    summary = book.add_worksheet("Ringkasan")
    summary.set_column(0, 0, 34)
    summary.set_column(1, 1, 18)
    summary.write(0, 0, "Laporan Evaluasi Penuntasan Wajib Rekam KTP-el", title)
    summary.write(1, 0, "Wilayah", bold)
    summary.write(1, 1, ev.within.name)
    summary.write(2, 0, "Periode dari", bold)
    summary.write_datetime(2, 1, datetime.combine(ev.first_day, datetime.min.time()), day)
    summary.write(3, 0, "Periode sampai", bold)
    summary.write_datetime(3, 1, datetime.combine(ev.period.end, datetime.min.time()), day)
    t = ev.total
    for i, (label, value, fmt) in enumerate((
            ("Wajib rekam", t.must_record, num), ("Sudah rekam", t.recorded, num),
            ("Cakupan", t.coverage or 0, pct), ("Belum rekam", t.remaining, num),
            ("Direkam dalam periode", t.recorded_in_period, num),
            ("Perubahan basis dalam periode", t.base_change, num),
            ("Target cakupan", ev.target, pct)), start=5):
        summary.write(i, 0, label, bold)
        summary.write_number(i, 1, value, fmt)

    sheets: list[tuple[str, list[coverage.Figures]]] = []
    if ev.kecamatan:
        sheets.append(("Kecamatan", ev.kecamatan))
    if ev.kelurahan:
        sheets.append(("Kelurahan", ev.kelurahan))
    if ev.by not in ("kecamatan", "kelurahan", "kota"):
        sheets.append((ev.by.upper(), ev.rows))
    if not sheets:
        sheets.append((ev.by.capitalize(), ev.rows))
    for name, rows in sheets:
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, [COLUMNS_ID[h] for h in HEADERS], head)
        for r, f in enumerate(rows, start=1):
            values = _row(f)
            sheet.write_string(r, 0, values[0])
            sheet.write_string(r, 1, values[1])
            sheet.write_string(r, 2, values[2])
            for col in (3, 4, 6, 7, 8):
                sheet.write_number(r, col, values[col], num)
            if values[5] is None:
                sheet.write_blank(r, 5, None, pct)
            else:
                sheet.write_number(r, 5, values[5], pct)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(1, len(rows)), len(HEADERS) - 1)
        sheet.set_column(0, 0, 15)
        sheet.set_column(1, 1, 28)
        sheet.set_column(2, 2, 6)
        sheet.set_column(3, 8, 13)
        if rows:
            chart = book.add_chart({"type": "bar"})
            chart.add_series({"name": "Cakupan", "categories": [name, 1, 1, len(rows), 1],
                              "values": [name, 1, 5, len(rows), 5], "fill": {"color": "#1B7F3B"}})
            chart.set_title({"name": f"Cakupan per {name.lower()}"})
            chart.set_x_axis({"min": 0, "max": 1, "num_format": "0%"})
            chart.set_y_axis({"reverse": True})
            chart.set_legend({"none": True})
            chart.set_size({"width": 620, "height": max(300, 22 * len(rows) + 80)})
            sheet.insert_chart(1, len(HEADERS) + 1, chart)

    progress = book.add_worksheet("Kemajuan")
    progress.write_row(0, 0, ["Tanggal" if not ev.weekly else "Minggu mulai", "Wajib rekam",
                              "Sudah rekam", "Cakupan", "Direkam", "Target"], head)
    for r, p in enumerate(ev.series, start=1):
        progress.write_datetime(r, 0, datetime.combine(p.day, datetime.min.time()), day)
        progress.write_number(r, 1, p.must_record, num)
        progress.write_number(r, 2, p.recorded, num)
        progress.write_number(r, 3, p.coverage or 0, pct)
        progress.write_number(r, 4, p.recorded_that_day, num)
        progress.write_number(r, 5, ev.target, pct)
    progress.freeze_panes(1, 0)
    progress.autofilter(0, 0, max(1, len(ev.series)), 5)
    progress.set_column(0, 5, 14)
    if ev.series:
        n = len(ev.series)
        line = book.add_chart({"type": "line"})
        line.add_series({"name": "Cakupan", "categories": ["Kemajuan", 1, 0, n, 0],
                         "values": ["Kemajuan", 1, 3, n, 3], "line": {"color": "#0B5CAD"}})
        line.add_series({"name": "Target", "categories": ["Kemajuan", 1, 0, n, 0],
                         "values": ["Kemajuan", 1, 5, n, 5],
                         "line": {"color": "#B3261E", "dash_type": "dash"}})
        line.set_title({"name": "Kemajuan terhadap target"})
        line.set_y_axis({"min": 0, "max": 1, "num_format": "0%"})
        line.set_x_axis({"date_axis": True, "num_format": "dd-mm"})
        progress.insert_chart(1, 7, line)

    if ev.funnel is not None and ev.funnel.letters:
        inv = book.add_worksheet("Undangan")
        heads = ["Kode", "Wilayah", "RW", "Surat dibuat", "Dicetak",
                 *(MARK_LABELS[m] for m in invitations.MARKS), "Belum ada kabar",
                 "Hadir dan terekam", "Hadir / dibuat"]
        inv.write_row(0, 0, heads, head)
        for r, g in enumerate(ev.funnel_rows, start=1):
            a = g.area
            inv.write_string(r, 0, a.code)
            inv.write_string(r, 1, a.name if a.level != "rw" else
                             f"{regions.get(a.code).name} RW {a.rw}")
            inv.write_string(r, 2, a.rw)
            values = [g.letters, g.printed, *(g.marks.get(m, 0) for m in invitations.MARKS),
                      g.unmarked, g.attended]
            for col, v in enumerate(values, start=3):
                inv.write_number(r, col, v, num)
            inv.write_number(r, len(heads) - 1, g.attended / g.letters if g.letters else 0,
                             pct)
        inv.freeze_panes(1, 0)
        inv.autofilter(0, 0, max(1, len(ev.funnel_rows)), len(heads) - 1)
        inv.set_column(0, 1, 18)
        inv.set_column(2, len(heads) - 1, 12)

    kits = book.add_worksheet("Kit")
    tally_heads = ["Direkam", "Diterima", "Menunggu tinjauan", "Ditolak", "Tidak terbaca",
                   "Latihan (tidak dihitung)"]
    kit_heads = ["Kit", "Kelurahan", "Keadaan", "Laporan terakhir", "Antrean paket",
                 "Paket diterima", "Kit latihan", *tally_heads]
    kits.write_row(0, 0, kit_heads, head)
    stamp = book.add_format({"num_format": "dd-mm-yyyy hh:mm"})
    for r, k in enumerate(ev.kits, start=1):
        kits.write_string(r, 0, k.device_id)
        kits.write_string(r, 1, ", ".join(k.kelurahan))
        kits.write_string(r, 2, _state_id(k))
        if k.last_heartbeat:
            kits.write_datetime(r, 3, k.last_heartbeat.astimezone(_wib()).replace(tzinfo=None),
                                stamp)
        kits.write_number(r, 4, k.queue_depth or 0, num)
        kits.write_number(r, 5, k.packets, num)
        kits.write_boolean(r, 6, k.training)
        for col, value in enumerate(_tally_values(_kit_output(ev, k.device_id).tally), start=7):
            kits.write_number(r, col, value, num)
    kits.freeze_panes(1, 1)
    kits.autofilter(0, 0, max(1, len(ev.kits)), len(kit_heads) - 1)
    kits.set_column(0, len(kit_heads) - 1, 16)

    # Each operator's output per day: one row per day, kit and operator (a pivot table's
    # source: Excel sums it by operator, kit, week or verdict).
    ops = book.add_worksheet("Operator per hari")
    op_heads = ["Tanggal", "Kit", "Operator", *tally_heads]
    ops.write_row(0, 0, op_heads, head)
    per_day: dict[tuple[date, str, str], output.Tally] = {}
    for d, kit, operator, state, n in (ev.output.daily if ev.output else []):
        per_day.setdefault((d, kit, operator), output.Tally()).add(state, n)
    for r, ((d, kit, operator), tally) in enumerate(sorted(per_day.items()), start=1):
        ops.write_datetime(r, 0, datetime.combine(d, datetime.min.time()), day)
        ops.write_string(r, 1, kit)
        ops.write_string(r, 2, shown(operator) if operator else "(tidak terbaca)")
        for col, value in enumerate(_tally_values(tally), start=3):
            ops.write_number(r, col, value, num)
    ops.freeze_panes(1, 0)
    ops.autofilter(0, 0, max(1, len(per_day)), len(op_heads) - 1)
    ops.set_column(0, 0, 12)
    ops.set_column(1, 2, 18)
    ops.set_column(3, len(op_heads) - 1, 13)

    if ev.flagged is not None and ev.flagged.items:
        sheet = book.add_worksheet("Ditandai")
        heads = ["No. tinjauan", "Direkam (WIB)", "Kit", "Operator", "Kelurahan", "RW",
                 "Kit latihan", "Tanda"]
        sheet.write_row(0, 0, heads, head)
        for r, item in enumerate(ev.flagged.items, start=1):
            sheet.write_number(r, 0, item.id)
            sheet.write_datetime(r, 1, item.recorded_at.astimezone(_wib()).replace(tzinfo=None),
                                 stamp)
            sheet.write_string(r, 2, item.device_id)
            sheet.write_string(r, 3, shown(item.operator_id))
            sheet.write_string(r, 4, regions.get(item.kelurahan).name if item.kelurahan
                               else "")
            sheet.write_string(r, 5, item.rw)
            sheet.write_boolean(r, 6, item.training)
            sheet.write_string(r, 7, "; ".join(flagged.flag_label(str(f.get("code", "")))
                                               for f in item.flags))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, len(ev.flagged.items), len(heads) - 1)
        sheet.set_column(0, 6, 15)
        sheet.set_column(7, 7, 60)
    book.close()
    return out.getvalue()


def _tally_values(t: output.Tally) -> list[int]:
    return [t.recorded, t.accepted, t.review, t.rejected, t.unreadable, t.training]


def _state_id(k: KitState) -> str:
    if k.state == "silent":
        return f"diam {k.silent_days} hari" if k.silent_days else f"diam {k.silent_hours} jam"
    return {"online": "daring", "late": "terlambat", "offline": "luring",
            "never": "belum pernah melapor", "revoked": "dicabut"}[k.state]


# --- PDF --------------------------------------------------------------------------------------

MARK_LABELS = {"delivered": "Diterima", "not-found": "Tidak ditemukan", "moved": "Pindah",
               "died": "Meninggal", "refused": "Menolak"}

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")


def tanggal(day: date) -> str:
    """5 Desember 2026."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _id_num(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def _id_pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}".replace(".", ",") + " %"


def _table(rows: Sequence[coverage.Figures], total: coverage.Figures | None) -> list[list[str]]:
    out = []
    for f in rows:
        a = f.area
        out.append([a.code if a.level != "rw" else f"RW {a.rw}", a.name if a.level != "rw"
                     else regions.get(a.code).name, _id_num(f.must_record),
                     _id_num(f.recorded), _id_pct(f.coverage), _id_num(f.remaining),
                     _id_num(f.recorded_in_period)])
    if total is not None:
        out.append(["", "Jumlah", _id_num(total.must_record), _id_num(total.recorded),
                    _id_pct(total.coverage), _id_num(total.remaining),
                    _id_num(total.recorded_in_period)])
    return out


def pdf_document(ev: Evaluation) -> dict[str, Any]:
    from hq.monitoring import charts

    t = ev.total
    level_rows = ev.kecamatan or ev.kelurahan or ev.rows
    level_name = "kecamatan" if ev.kecamatan else "kelurahan" if ev.kelurahan else ev.by
    behind = sorted((f for f in (ev.kelurahan or ev.rows) if f.coverage is not None),
                    key=lambda f: f.coverage or 0)[:5]
    return {
        "title": "Laporan Evaluasi Penuntasan Wajib Rekam KTP-el",
        "area": ev.within.name if ev.within.level != "kota" else "Kota Bekasi",
        "period": f"{tanggal(ev.first_day)} – {tanggal(ev.period.end)}",
        "made": tanggal(ev.generated_at.date()),
        "headline": {
            "coverage": _id_pct(t.coverage), "recorded": _id_num(t.recorded),
            "must_record": _id_num(t.must_record), "remaining": _id_num(t.remaining),
            "in_period": _id_num(t.recorded_in_period),
            "base_change": ("+" if t.base_change > 0 else "") + _id_num(t.base_change),
            "target": _id_pct(ev.target),
            "gap": _id_num(max(0, int(ev.target * t.must_record + 0.999) - t.recorded)),
            "kits": len(ev.kits),
            "kits_online": sum(k.state == "online" for k in ev.kits),
            "kits_silent": sum(k.state == "silent" for k in ev.kits),
            "training_kits": sum(k.training for k in ev.kits),
        },
        "behind": [[f.area.name if f.area.level != "rw" else
                    f"{regions.get(f.area.code).name} RW {f.area.rw}", _id_pct(f.coverage),
                    _id_num(f.remaining)] for f in behind],
        "chart_levels": charts.coverage_by_area(level_rows, level_name, ev.target),
        "chart_progress": charts.progress(ev.series, ev.target, weekly=ev.weekly),
        "level_name": level_name,
        "tables": [
            {"title": f"Cakupan per {name}", "rows": _table(rows, ev.total)}
            for name, rows in (("kecamatan", ev.kecamatan), ("kelurahan", ev.kelurahan),
                               *((("RW", ev.rows),) if ev.by == "rw" else ()))
            if rows
        ] or [{"title": f"Cakupan {ev.within.name}", "rows": _table([ev.total], None)}],
        "kits": [[breakable(k.device_id) + (" (LATIHAN)" if k.training else ""),
                  ", ".join(regions.get(c).name for c in k.kelurahan),
                  _state_id(k), k.last_heartbeat.astimezone(_wib()).strftime("%d-%m-%Y %H.%M")
                  if k.last_heartbeat else "—", _id_num(k.queue_depth or 0),
                  _id_num(_kit_output(ev, k.device_id).tally.recorded),
                  _id_num(_kit_output(ev, k.device_id).tally.training) if
                  _kit_output(ev, k.device_id).tally.training else "—"] for k in ev.kits],
        "output": _pdf_output(ev),
        "flagged": _pdf_flagged(ev),
        "weekly": ev.weekly,
        "funnel": None if ev.funnel is None or not ev.funnel.letters else {
            "chart": charts.funnel(ev.funnel, MARK_LABELS),
            "rows": [[g.area.name if g.area.level != "rw" else
                      f"{regions.get(g.area.code).name} RW {g.area.rw}",
                      _id_num(g.letters), _id_num(g.printed), _id_num(g.delivered),
                      _id_num(g.printed - g.delivered - g.unmarked), _id_num(g.unmarked),
                      _id_num(g.attended)] for g in ev.funnel_rows],
            "letters": _id_num(ev.funnel.letters), "attended": _id_num(ev.funnel.attended),
            "delivered": _id_num(ev.funnel.delivered),
        },
    }


def breakable(text: str, every: int = 14) -> str:
    """An id as the PDF shows it: made safe (:func:`shown`), and a run of more than
    ``every`` characters with no space or hyphen in it (where lines break anyway) given an
    invisible break opportunity every ``every`` characters, so it wraps inside its table
    cell instead of running over the next one. Ids as kits make them are left as they
    are (a reader can search the PDF for them)."""
    out, run = [], 0
    for ch in shown(text):
        if run >= every:
            out.append("\u200b")
            run = 0
        out.append(ch)
        run = 0 if ch in " -" else run + 1
    return "".join(out)


def _avg(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".replace(".", ",")


def _pdf_output(ev: Evaluation) -> dict[str, Any] | None:
    """The "kits and operators" section: what each kit and operator recorded in the period,
    a chart per day (per week beyond two months), and the last seven days per operator."""
    from hq.monitoring import charts

    made = ev.output
    if made is None or not (made.total.recorded or made.total.training):
        return None
    tallies: dict[date, output.Tally] = {}
    for d, _kit, _op, state, n in made.daily:
        key = d - timedelta(days=d.weekday()) if ev.weekly else d
        tallies.setdefault(key, output.Tally()).add(state, n)
    keys = sorted({(d - timedelta(days=d.weekday())) if ev.weekly else d for d in made.days})
    recent = made.days[-7:]
    t = made.total

    def row(o: output.OutputRow) -> list[str]:
        return [_id_num(o.days_active), _id_num(o.tally.recorded), _id_num(o.tally.accepted),
                _id_num(o.tally.review), _id_num(o.tally.rejected)]

    return {
        "recorded": _id_num(t.recorded), "accepted": _id_num(t.accepted),
        "review": _id_num(t.review), "rejected": _id_num(t.rejected),
        "unreadable": _id_num(t.unreadable), "training": _id_num(t.training),
        "has_training": t.training > 0, "has_unreadable": t.unreadable > 0,
        "chart": charts.output_per_day(keys, [tallies.get(k, output.Tally()) for k in keys],
                                       weekly=ev.weekly),
        "kits": [[breakable(k.device_id), *row(k), _id_num(k.tally.unreadable),
                  _id_num(k.tally.training) if k.tally.training else "—",
                  _avg(k.per_active_day)] for k in made.kits],
        "operators": [[breakable(o.operator_id) or "—", breakable(o.device_id), *row(o),
                       _avg(o.per_active_day), _id_num(o.best_day),
                       _id_num(o.tally.training) if o.tally.training else "—"]
                      for o in made.operators],
        "recent_days": [d.strftime("%d-%m") for d in recent],
        "recent": [[breakable(o.operator_id) or "—", breakable(o.device_id),
                    *(_id_num(n) if n else "·" for n in o.per_day[-7:]),
                    _id_num(sum(o.per_day[-7:]))]
                   for o in made.operators if any(o.per_day[-7:])],
    }


def _pdf_flagged(ev: Evaluation) -> dict[str, Any] | None:
    """The "flagged recordings" section: the review queue as the report is made."""
    queue = ev.flagged
    if queue is None:
        return None
    return {
        "waiting": _id_num(queue.waiting), "training": _id_num(queue.training),
        "has_training": queue.training > 0,
        "oldest": queue.oldest.astimezone(_wib()).strftime("%d-%m-%Y %H.%M")
        if queue.oldest else "",
        "by_flag": [[flagged.flag_label(code), _id_num(n)] for code, n in queue.by_flag],
        "items": [[str(i.id), i.recorded_at.astimezone(_wib()).strftime("%d-%m-%Y %H.%M"),
                   breakable(i.device_id) + (" (LATIHAN)" if i.training else ""),
                   breakable(i.operator_id) or "—",
                   (regions.get(i.kelurahan).name + (f" RW {i.rw}" if i.rw else ""))
                   if i.kelurahan else "—",
                   "; ".join(flagged.flag_label(str(f.get("code", ""))) for f in i.flags)]
                  for i in queue.items[:FLAGGED_IN_PDF]],
        "more": _id_num(max(0, queue.waiting - FLAGGED_IN_PDF)),
        "has_more": queue.waiting > FLAGGED_IN_PDF,
    }


def _wib() -> Any:
    from edge.clock import WIB

    return WIB


def template() -> bytes:
    return (Path(__file__).parent.parent / "templates" / "evaluation.typ").read_bytes()


def to_pdf(ev: Evaluation) -> bytes:
    import typst

    document = pdf_document(ev)
    compiler = typst.Compiler(template(), ignore_system_fonts=True,
                              sys_inputs={"data": json.dumps(document, ensure_ascii=False)})
    try:
        pdf = compiler.compile(format="pdf", timestamp=ev.generated_at.replace(microsecond=0),
                               pdf_tags=False)
    except typst.TypstError as exc:  # a bug of ours, never the data: say where
        raise RuntimeError(f"typesetting the report failed: {exc.message} "
                           f"{exc.diagnostic}") from exc
    assert isinstance(pdf, bytes)
    return pdf


RENDERERS = {"csv": to_csv, "json": to_json, "xlsx": to_xlsx, "pdf": to_pdf}
