"""The evaluation report as a PDF: the document's data (every text in Bahasa Indonesia,
numbers as Indonesians write them, matplotlib's charts as SVG) typeset by Typst from
``hq/templates/evaluation.typ``. The figures come from one
:class:`~hq.monitoring.evaluation.Evaluation`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from edge import regions
from edge.clock import WIB
from hq.monitoring import coverage, flagged, output
from hq.monitoring.evaluation import MARK_LABELS, Evaluation, kit_output, state_id
from hq.monitoring.text import shown

FLAGGED_IN_PDF = 30  # the flagged recordings the PDF lists one by one (JSON and Excel, more)

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
                  state_id(k), k.last_heartbeat.astimezone(WIB).strftime("%d-%m-%Y %H.%M")
                  if k.last_heartbeat else "—", _id_num(k.queue_depth or 0),
                  _id_num(kit_output(ev, k.device_id).tally.recorded),
                  _id_num(kit_output(ev, k.device_id).tally.training) if
                  kit_output(ev, k.device_id).tally.training else "—"] for k in ev.kits],
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
        "oldest": queue.oldest.astimezone(WIB).strftime("%d-%m-%Y %H.%M")
        if queue.oldest else "",
        "by_flag": [[flagged.flag_label(code), _id_num(n)] for code, n in queue.by_flag],
        "items": [[str(i.id), i.recorded_at.astimezone(WIB).strftime("%d-%m-%Y %H.%M"),
                   breakable(i.device_id) + (" (LATIHAN)" if i.training else ""),
                   breakable(i.operator_id) or "—",
                   (regions.get(i.kelurahan).name + (f" RW {i.rw}" if i.rw else ""))
                   if i.kelurahan else "—",
                   "; ".join(flagged.flag_label(str(f.get("code", ""))) for f in i.flags)]
                  for i in queue.items[:FLAGGED_IN_PDF]],
        "more": _id_num(max(0, queue.waiting - FLAGGED_IN_PDF)),
        "has_more": queue.waiting > FLAGGED_IN_PDF,
    }




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
