"""Flagged enrolments: what the vault would not accept by itself and a supervisor has not
decided yet (``rekam-hq review decide``), within an area, for the dashboard's review queue
and the evaluation report. The queue is read as it stands now, whatever the period.

An enrolment carries its resident's kelurahan (else the kit's); a packet HQ could not read
has none, so only accounts that see the whole kota see those.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from hq.db import enrolments, reviews
from hq.dialect import as_utc
from hq.monitoring.coverage import KOTA, Area, _within
from hq.review import ReviewItem, list_reviews

#: Each flag of hq.inspect and the vault, as people read it (Bahasa Indonesia, English).
FLAG_LABELS: dict[str, tuple[str, str]] = {
    "unknown_nik": ("NIK tidak ada di daftar wajib rekam", "NIK not on the register"),
    "details_differ": ("data berbeda dengan daftar", "details differ from the register"),
    "resident_left": ("warga sudah pindah, meninggal atau rekam di tempat lain",
                      "resident moved, died or recorded elsewhere"),
    "recorded_twice": ("NIK direkam dua kali", "NIK recorded twice"),
    "unreadable": ("paket tidak dapat dibuka", "packet cannot be opened"),
    "simulated": ("perangkat simulasi di kit produksi", "simulated devices on a production kit"),
    "training": ("kit latihan", "training kit"),
    "not_on_worklist": ("NIK tidak ada di daftar kerja kit", "NIK not on the kit's worklist"),
    "kelurahan": ("kelurahan di luar wilayah kit", "kelurahan the kit does not serve"),
    "incomplete": ("rekaman tidak lengkap", "incomplete capture set"),
    "timestamps": ("waktu tidak wajar", "implausible times"),
    "evidence_missing": ("bukti perangkat tidak ada", "device evidence missing"),
    "evidence_invalid": ("bukti perangkat tidak sah", "device evidence invalid"),
    "evidence_untrusted": ("bukti perangkat tidak dipercaya", "device evidence untrusted"),
    "audit_anchor": ("log audit kit bercabang atau mundur", "kit's audit log forked or went back"),
    "device_not_active": ("kit dicabut atau nonaktif", "kit revoked or inactive"),
    "schema": ("manifes tidak sesuai skema", "manifest breaks the schema"),
    "unknown_format": ("format paket tidak dikenal", "unknown packet format"),
    "header_mismatch": ("manifes dan kepala paket berbeda", "manifest and header disagree"),
    "files": ("berkas paket tidak sesuai manifes", "packet files do not match the manifest"),
    "container": ("wadah paket tidak aman", "unsafe packet container"),
}


def flag_label(code: str, language: str = "id") -> str:
    """A flag code in words; a code this release does not know is shown as it is."""
    labels = FLAG_LABELS.get(code)
    if labels is None:
        return code
    return labels[1] if language == "en" else labels[0]


@dataclass(frozen=True)
class Flagged:
    waiting: int  # enrolments waiting for a decision in the area
    training: int  # of them, from training kits (never counted as recordings)
    oldest: datetime | None  # when the oldest one was recorded
    by_flag: list[tuple[str, int]]  # (flag code, waiting enrolments carrying it), most first
    items: list[ReviewItem]  # the oldest ones, at most the limit asked for

    def to_dict(self) -> dict[str, Any]:
        return {"menunggu": self.waiting, "dari_kit_latihan": self.training,
                "tertua": self.oldest.isoformat() if self.oldest else None,
                "per_tanda": [{"tanda": code, "keterangan": flag_label(code), "jumlah": n}
                              for code, n in self.by_flag],
                "daftar": [i.to_dict() for i in self.items]}


def waiting(engine: Engine, within: Area = KOTA, *, limit: int = 200) -> Flagged:
    """The enrolments waiting for review inside ``within``: how many, by flag, and the
    oldest ``limit`` of them in full."""
    v, e = reviews.c, enrolments.c
    where = _within(e, within)
    with engine.connect() as conn:
        rows = conn.execute(
            select(v.flags, e.training, e.recorded_at)
            .select_from(reviews.join(enrolments, v.packet_id == e.packet_id))
            .where(v.state == "open", *where)).all()
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update({str(f.get("code", "")) for f in json.loads(row.flags)} - {""})
    oldest = as_utc(min((r.recorded_at for r in rows), default=None))
    by_flag = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return Flagged(len(rows), sum(bool(r.training) for r in rows), oldest, by_flag,
                   list_reviews(engine, limit=limit, where=where))

