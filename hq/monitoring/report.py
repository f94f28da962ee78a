"""``rekam-hq report``: the periodic evaluation report for the Wali Kota, as a table, CSV
(UTF-8 with BOM, for Excel), JSON, an Excel workbook (:mod:`hq.monitoring.report_xlsx`) or
a PDF (:mod:`hq.monitoring.report_pdf`).

This module holds the flat formats (the terminal's table, CSV, JSON) and :data:`RENDERERS`,
the one list of formats the command and the dashboard's downloads offer. Every figure comes
from one :class:`~hq.monitoring.evaluation.Evaluation`; the renderers only lay it out, so
the formats always agree.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hq.monitoring.evaluation import COLUMNS_ID, HEADERS, Evaluation, kit_output, row
from hq.monitoring.report_pdf import to_pdf
from hq.monitoring.report_xlsx import to_xlsx


def to_table(ev: Evaluation) -> tuple[list[str], list[list[str]]]:
    rows = []
    for f in [*ev.rows, ev.total] if len(ev.rows) > 1 else ev.rows:
        r = row(f)
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
        writer.writerow(["" if x is None else x for x in row(f)])
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
                 else None, "perekaman": kit_output(ev, k.device_id).tally.to_dict()}
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


RENDERERS = {"csv": to_csv, "json": to_json, "xlsx": to_xlsx, "pdf": to_pdf}
