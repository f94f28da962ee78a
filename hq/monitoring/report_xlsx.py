"""The evaluation report as an Excel workbook (XlsxWriter): one sheet per level, a summary,
the progress, the invitations, the kits, each operator per day and the flagged recordings,
with typed numbers and dates and native Excel charts. The figures come from one
:class:`~hq.monitoring.evaluation.Evaluation`."""

from __future__ import annotations

import io
from datetime import date, datetime

from edge import regions
from edge.clock import WIB
from hq.monitoring import coverage, flagged, invitations, output
from hq.monitoring.evaluation import (
    COLUMNS_ID,
    HEADERS,
    MARK_LABELS,
    Evaluation,
    kit_output,
    row,
    state_id,
)
from hq.monitoring.text import shown


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
            values = row(f)
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
        kits.write_string(r, 2, state_id(k))
        if k.last_heartbeat:
            kits.write_datetime(r, 3, k.last_heartbeat.astimezone(WIB).replace(tzinfo=None),
                                stamp)
        kits.write_number(r, 4, k.queue_depth or 0, num)
        kits.write_number(r, 5, k.packets, num)
        kits.write_boolean(r, 6, k.training)
        for col, value in enumerate(_tally_values(kit_output(ev, k.device_id).tally), start=7):
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
            sheet.write_datetime(r, 1, item.recorded_at.astimezone(WIB).replace(tzinfo=None),
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
