"""Revoking a kit: ``rekam-hq device revoke KIT --reason lost|stolen|retired``.

A lost, stolen or retired kit is marked at HQ (ingest refuses its messages from then on:
``device_revoked``), its TLS certificate goes on HQ's certificate revocation list, and the
broker's ACL denies its username every topic. Both files are written into HQ's keys and
into the broker's directory (recorded by ``rekam-hq broker-config``); Mosquitto 2.0 reads
them again on SIGHUP (``systemctl reload mosquitto``): from then on the broker refuses the
kit's TLS handshake, and a connection it still holds can neither publish nor receive.

Then the breach report UU 27/2022 (Pelindungan Data Pribadi) asks for within 3×24 hours:
whose data the kit carried (every worklist HQ sent it) and what it may have held that HQ
never received (its last heartbeat's queue against what HQ stored, its audit head, packets
half-received or refused).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, update

from edge.errors import InvalidInput
from edge.keys import write_private, write_public
from hq.anchors import Head, latest_heads
from hq.broker import acl_text
from hq.crl import CRL_NAME, REASONS, build_crl, revoked_devices
from hq.db import dead_letters, device_status, devices, packet_chunks, packets
from hq.devices import get_device
from hq.dialect import as_utc
from hq.home import HqHome, HqKeys
from hq.issued import IssuedWorklist, residents_sent, worklists_sent

_REASON_ID = {"lost": "hilang", "stolen": "dicuri", "retired": "dipensiunkan"}
NOTIFY_WITHIN = timedelta(hours=72)  # UU 27/2022 art. 46: 3 x 24 hours


def broker_dir(home: HqHome) -> Path | None:
    value = str(home.config().get("broker_dir") or "")
    return Path(value) if value else None


def publish_revocations(engine: Engine, home: HqHome, keys: HqKeys, now: datetime
                        ) -> list[Path]:
    """Write the CRL (HQ's keys, and the broker's directory) and the broker's ACL with a deny
    for every revoked kit; the files written."""
    revoked = revoked_devices(engine)
    crl = build_crl(keys, revoked, now)
    write_public(home.keys_dir / CRL_NAME, crl)
    written = [home.keys_dir / CRL_NAME]
    out = broker_dir(home)
    if out is not None and out.is_dir():
        write_public(out / CRL_NAME, crl)
        write_public(out / "acl", acl_text(revoked=[r.device_id for r in revoked]).encode())
        written += [out / CRL_NAME, out / "acl"]
    return written


def revoke(engine: Engine, device_id: str, reason: str, now: datetime) -> None:
    if reason not in REASONS:
        raise InvalidInput(f"--reason must be one of {', '.join(REASONS)}, not {reason!r}")
    device = get_device(engine, device_id)
    if device.status == "revoked":
        raise InvalidInput(f"device {device_id} is already revoked")
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.device_id == device_id)
                     .values(status="revoked", revoked_at=now, revoke_reason=reason))


# --- the breach report -----------------------------------------------------------------------


@dataclass
class BreachReport:
    device_id: str
    kelurahan: tuple[str, ...]
    reason: str
    revoked_at: datetime
    worklists: list[IssuedWorklist]
    residents: int
    by_kelurahan: dict[str, int]
    roster_version: int | None  # what the kit last said it holds
    roster_expires_at: str | None
    last_heartbeat: datetime | None  # HQ's clock
    queue_at_heartbeat: int | None
    oldest_queued: str | None
    stored_packets: int
    last_packet_at: datetime | None
    stored_since_heartbeat: int
    audit_head: Head | None
    incomplete: list[str] = field(default_factory=list)  # packet ids with chunks only
    refused: list[tuple[str, str]] = field(default_factory=list)  # (packet id, reason code)
    residents_csv: bytes = b""

    @property
    def notify_by(self) -> datetime:
        return self.revoked_at + NOTIFY_WITHIN

    @property
    def never_received(self) -> int | None:
        """Packets the kit held unacknowledged at its last heartbeat that HQ has not stored
        since (an estimate: it may have sealed more after that heartbeat)."""
        if self.queue_at_heartbeat is None:
            return None
        return max(0, self.queue_at_heartbeat - self.stored_since_heartbeat)


def breach_report(engine: Engine, device_id: str) -> BreachReport:
    device = get_device(engine, device_id)
    if device.status != "revoked":
        raise InvalidInput(f"device {device_id} is not revoked")
    d = devices.c
    with engine.connect() as conn:
        reason, revoked_at = conn.execute(select(d.revoke_reason, d.revoked_at)
                                          .where(d.device_id == device_id)).one()
        s = device_status.c
        status = conn.execute(select(s.received_at, s.queue_depth, s.oldest_queued,
                                     s.roster_version, s.body)
                              .where(s.device_id == device_id)).first()
        p = packets.c
        stored, last = conn.execute(select(func.count(), func.max(p.received_at))
                                    .where(p.device_id == device_id)).one()
        since = 0
        if status is not None:
            since = int(conn.execute(select(func.count()).where(
                p.device_id == device_id, p.received_at > status[0])).scalar_one())
        c = packet_chunks.c
        incomplete = [r[0] for r in conn.execute(
            select(c.packet_id).where(c.device_id == device_id).distinct()
            .order_by(c.packet_id))]
        dl = dead_letters.c
        refused = [(r[0], r[1]) for r in conn.execute(
            select(dl.packet_id, dl.reason_code).where(dl.device_id == device_id,
                                                       dl.packet_id.is_not(None))
            .distinct().order_by(dl.packet_id))]
    stored_ids = set()
    if refused:
        with engine.connect() as conn:
            stored_ids = {r[0] for r in conn.execute(
                select(packets.c.packet_id).where(packets.c.packet_id.in_(
                    [pid for pid, _ in refused])))}
    expires = None
    if status is not None:
        import json

        try:
            expires = json.loads(status[4]).get("roster_expires_at")
        except ValueError:
            expires = None
    people = residents_sent(engine, device_id)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["nik", "nama", "kode_kelurahan", "worklist_pertama", "worklist_terakhir"])
    for resident, first, latest in people:
        writer.writerow([resident.nik, resident.name, resident.kelurahan, first, latest])
    return BreachReport(
        device_id=device_id, kelurahan=device.kelurahan, reason=str(reason),
        revoked_at=as_utc(revoked_at), worklists=worklists_sent(engine, device_id),
        residents=len(people), by_kelurahan=dict(Counter(r.kelurahan for r, _, _ in people)),
        roster_version=None if status is None else status[3], roster_expires_at=expires,
        last_heartbeat=None if status is None else as_utc(status[0]),
        queue_at_heartbeat=None if status is None else int(status[1]),
        oldest_queued=None if status is None else status[2], stored_packets=int(stored),
        last_packet_at=None if last is None else as_utc(last), stored_since_heartbeat=since,
        audit_head=latest_heads(engine).get(device_id), incomplete=incomplete,
        refused=[(pid, code) for pid, code in refused if pid not in stored_ids],
        residents_csv=buf.getvalue().encode("utf-8-sig"))


def write_report_csv(report: BreachReport, path: Path) -> Path:
    write_private(path, report.residents_csv)
    return path


def _when(value: datetime | None) -> str:
    return "-" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def report_text(report: BreachReport, csv_path: Path | None) -> str:
    """The report in Bahasa Indonesia, for HQ's data protection officer."""
    r = report
    lines = [
        f"LAPORAN KEGAGALAN PELINDUNGAN DATA PRIBADI (UU 27/2022) - kit {r.device_id}",
        f"  alasan pencabutan   {_REASON_ID.get(r.reason, r.reason)} ({r.reason}), dicabut "
        f"{_when(r.revoked_at)}",
        f"  batas pemberitahuan {_when(r.notify_by)} (3 x 24 jam, UU 27/2022 pasal 46)",
        f"  kelurahan           {', '.join(r.kelurahan)}",
        "",
        "Data penduduk yang dibawa kit (dari daftar kerja yang dikirim HQ):",
    ]
    if not r.worklists:
        lines.append("  HQ tidak mencatat daftar kerja apa pun untuk kit ini")
    for w in r.worklists:
        lines.append(f"  daftar kerja v{w.version}: {w.residents} penduduk, dikirim "
                     f"{_when(w.issued_at)}, berlaku sampai {_when(w.expires_at)}")
    lines.append(f"  total {r.residents} penduduk berbeda (NIK, nama, no. KK, tanggal lahir, "
                 "alamat): " + ", ".join(f"{k} {v}" for k, v in sorted(r.by_kelurahan.items())))
    if r.roster_version is not None:
        lines.append(f"  menurut heartbeat terakhir kit menyimpan daftar kerja "
                     f"v{r.roster_version}, kedaluwarsa {r.roster_expires_at or '-'}")
    if csv_path is not None:
        lines.append(f"  daftar lengkap (NIK, nama, kelurahan): {csv_path} (0600)")
    lines.append("  Daftar penduduk di kit terenkripsi (SQLCipher, kunci dibungkus PIN operator "
                 "dengan Argon2id); biometrik tersegel ke kunci HQ dan tidak dapat dibuka kit.")
    lines += ["", "Rekaman yang mungkin belum diterima HQ:"]
    if r.last_heartbeat is None:
        lines.append("  kit tidak pernah mengirim heartbeat ke HQ")
    else:
        lines.append(f"  heartbeat terakhir {_when(r.last_heartbeat)}: {r.queue_at_heartbeat} "
                     f"paket belum dikonfirmasi HQ (tertua {r.oldest_queued or '-'})")
        lines.append(f"  sejak itu HQ menerima {r.stored_since_heartbeat}; perkiraan belum "
                     f"diterima: {r.never_received} paket (ditambah yang direkam setelah "
                     "heartbeat itu)")
    lines.append(f"  HQ menyimpan {r.stored_packets} paket kit ini, terakhir "
                 f"{_when(r.last_packet_at)}")
    if r.audit_head is not None:
        lines.append(f"  log audit terakhir yang dilihat HQ: entri #{r.audit_head.seq} "
                     f"({r.audit_head.source}, {_when(r.audit_head.at)})")
    if r.incomplete:
        lines.append("  paket yang baru sebagian diterima: " + ", ".join(r.incomplete))
    if r.refused:
        lines.append("  paket yang ditolak HQ dan tidak tersimpan: "
                     + ", ".join(f"{p} ({c})" for p, c in r.refused))
    return "\n".join(lines)


def default_report_path(home: HqHome, device_id: str, now: datetime) -> Path:
    return home.root / "breach" / f"{device_id}-{now:%Y%m%dT%H%M%S}.csv"

