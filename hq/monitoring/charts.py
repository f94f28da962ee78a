"""The evaluation report's charts, drawn by matplotlib to SVG (vector: sharp when printed),
returned as text the PDF template embeds. The Agg-free SVG backend needs no display."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hq.monitoring import coverage

GREEN, BLUE, RED, GREY = "#1b7f3b", "#0b5cad", "#b3261e", "#9aa3b2"


def _svg(fig: object) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")  # type: ignore[attr-defined]
    import matplotlib.pyplot as plt

    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("svg")
    matplotlib.rcParams.update({"svg.fonttype": "path", "font.family": "DejaVu Sans",
                                "font.size": 9, "svg.hashsalt": "rekam"})
    import matplotlib.pyplot as plt

    return plt


def coverage_by_area(rows: Sequence[coverage.Figures], level: str, target: float) -> str:
    """Horizontal bars: coverage of each area, the target as a dashed line."""
    plt = _pyplot()
    names = [r.area.name if r.area.level != "rw" else f"RW {r.area.rw}" for r in rows]
    values = [100 * (r.coverage or 0) for r in rows]
    fig, ax = plt.subplots(figsize=(7.0, max(2.2, 0.28 * len(rows) + 1.0)))
    ypos = range(len(rows))
    bars = ax.barh(list(ypos), values, color=[GREEN if v >= 100 * target else BLUE
                                               for v in values])
    ax.set_yticks(list(ypos), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.axvline(100 * target, color=RED, linestyle="--", linewidth=1)
    ax.set_xlabel("cakupan (%)")
    for bar, v in zip(bars, values):
        ax.text(min(v + 1, 92), bar.get_y() + bar.get_height() / 2,
                f"{v:.1f}".replace(".", ","), va="center", fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def progress(points: Sequence[coverage.Point], target: float, *, weekly: bool) -> str:
    """Coverage over time against the target line, with what was recorded each day/week."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.0))
    days = [p.day for p in points]
    # a period of one day is one point: drawn as a dot, on an axis of days around it
    ax.plot(days, [100 * (p.coverage or 0) for p in points], color=BLUE, linewidth=2,
            marker="o" if len(days) == 1 else None, label="cakupan")
    if len(days) == 1:
        from importlib import import_module

        mdates: Any = import_module("matplotlib.dates")  # untyped, like pyplot above
        ax.set_xlim(days[0] - timedelta(days=3), days[0] + timedelta(days=3))
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d-%m"))
    ax.axhline(100 * target, color=RED, linestyle="--", linewidth=1,
               label=f"target {100 * target:.0f} %")
    ax.set_ylim(0, 100)
    ax.set_ylabel("cakupan (%)")
    ax2 = ax.twinx()
    ax2.bar(days, [p.recorded_that_day for p in points], color=GREY, alpha=0.5,
            width=5 if weekly else 0.8, label="direkam per " + ("minggu" if weekly else "hari"))
    ax2.set_ylabel("direkam")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    lines = ax.get_legend_handles_labels()
    bars = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="lower right", fontsize=7,
              framealpha=0.9)
    ax.set_title("Kemajuan terhadap target", loc="left", fontweight="bold")
    fig.autofmt_xdate()
    return _svg(fig)


def funnel(total: Any, labels: dict[str, str]) -> str:
    """The invitations funnel: letters made, printed, delivered, attended; the other
    delivery marks beside it."""
    plt = _pyplot()
    steps = [("Surat dibuat", total.letters, BLUE), ("Dicetak", total.printed, BLUE),
             ("Diterima warga", total.delivered, BLUE),
             ("Hadir dan terekam", total.attended, GREEN)]
    others = [(labels[m], n) for m, n in total.marks.items() if m != "delivered" and n]
    others.append(("Belum ada kabar", total.unmarked))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.0, 2.4),
                                  gridspec_kw={"width_ratios": [2, 1]})
    names = [s[0] for s in steps]
    values = [s[1] for s in steps]
    bars = ax.barh(names, values, color=[s[2] for s in steps])
    ax.invert_yaxis()
    top = max(values) or 1
    for bar, v in zip(bars, values):
        ax.text(v + top * 0.01, bar.get_y() + bar.get_height() / 2,
                f"{v:,}".replace(",", ".") + (f"  ({100 * v / top:.0f} %)" if top else ""),
                va="center", fontsize=7)
    ax.set_xlim(0, top * 1.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax2.barh([o[0] for o in others], [o[1] for o in others], color=GREY)
    ax2.invert_yaxis()
    ax2.set_title("tanda lain", fontsize=8, loc="left")
    ax2.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _svg(fig)


AMBER, PURPLE = "#b26a00", "#6a3fb5"


def output_per_day(days: Sequence[Any], tallies: Sequence[Any], *, weekly: bool) -> str:
    """Recordings per day (or week) by the vault's verdict, stacked; training kits'
    practice drawn apart as a line, never stacked with the real ones."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 2.8))
    bottom = [0] * len(days)
    width = 5 if weekly else 0.8
    for name, label, color in (("accepted", "diterima", GREEN),
                               ("review", "menunggu tinjauan", AMBER),
                               ("rejected", "ditolak", RED),
                               ("unreadable", "tidak terbaca", GREY)):
        values = [getattr(t, name) for t in tallies]
        if any(values):
            ax.bar(list(days), values, bottom=bottom, color=color, width=width, label=label)
            bottom = [b + v for b, v in zip(bottom, values)]
    practice = [(d, t.training) for d, t in zip(days, tallies) if t.training]
    if practice:
        ax.scatter([d for d, _ in practice], [n for _, n in practice], color=PURPLE,
                   marker="D", s=14, zorder=3, label="latihan (tidak dihitung)")
    ax.set_ylabel("perekaman per " + ("minggu" if weekly else "hari"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=5, fontsize=7,
              frameon=False)
    ax.set_title("Perekaman per " + ("minggu" if weekly else "hari") + " menurut putusan vault",
                 loc="left", fontweight="bold")
    fig.autofmt_xdate()
    return _svg(fig)
