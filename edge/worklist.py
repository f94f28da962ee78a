"""Worklists: HQ's signed list of the residents a kit should record, and its visit schedule.

A worklist is a signed document (kind ``worklist``) whose body is gzipped canonical JSON::

    {"device_id", "version", "issued_at", "expires_at", "kelurahan": [...],
     "schedule": [{"date", "place", "kelurahan", "rw", "note"}], "residents": [record, ...]}

Residents use the SIAK-like CSV columns (:data:`edge.residents.CSV_COLUMNS`) plus
``kode_undangan``. The kit accepts a worklist only when HQ's signature verifies, it names this
device, its version is newer than the roster's, and it has not expired.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.errors import DocumentRejected, InvalidInput
from edge.residents import Resident
from edge.roster import RosterMeta, ScheduleEntry
from edge.signing import open_document, sign_document

KIND = "worklist"
MAX_BODY = 512 * 1024 * 1024  # decompressed; a 100,000-row worklist is about 30 MB


@dataclass(frozen=True)
class VerifiedWorklist:
    meta: RosterMeta
    records: list[dict[str, str]]

    def residents(self) -> Iterator[Resident]:
        for i, record in enumerate(self.records, start=1):
            yield Resident.from_signed_record(record, line=i)


def build_worklist(
    *,
    device_id: str,
    version: int,
    issued_at: datetime,
    expires_at: datetime,
    kelurahan: Sequence[str],
    residents: Iterable[Resident],
    schedule: Sequence[ScheduleEntry] = (),
    signing_key: ed25519.Ed25519PrivateKey,
) -> bytes:
    payload = {
        "device_id": device_id,
        "version": version,
        "issued_at": issued_at.isoformat(),
        "expires_at": expires_at.isoformat(),
        "kelurahan": list(kelurahan),
        "schedule": [
            {"date": s.date.isoformat(), "place": s.place, "kelurahan": s.kelurahan,
             "rw": s.rw, "note": s.note}
            for s in schedule
        ],
        "residents": [r.to_record() for r in residents],
    }
    body = gzip.compress(canonical_json(payload), compresslevel=6, mtime=0)
    return sign_document(KIND, body, signing_key)


def verify_worklist(
    data: bytes,
    *,
    trusted: Mapping[str, ed25519.Ed25519PublicKey],
    device_id: str,
    current_version: int | None,
    now: datetime,
) -> VerifiedWorklist:
    """Check signature, device, version and expiry; raise before anything is changed."""
    doc = open_document(data, kind=KIND, trusted=trusted)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(doc.body)) as fh:
            raw = fh.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise InvalidInput("worklist is larger than the kit accepts")
        payload: dict[str, Any] = json.loads(raw)
        meta = RosterMeta(
            device_id=str(payload["device_id"]),
            version=int(payload["version"]),
            issued_at=datetime.fromisoformat(payload["issued_at"]),
            expires_at=datetime.fromisoformat(payload["expires_at"]),
            kelurahan=tuple(str(k) for k in payload["kelurahan"]),
            count=len(payload["residents"]),
            schedule=tuple(
                ScheduleEntry(
                    date=date.fromisoformat(s["date"]), place=str(s["place"]),
                    kelurahan=str(s["kelurahan"]), rw=str(s["rw"]), note=str(s.get("note", "")),
                )
                for s in payload.get("schedule", [])
            ),
        )
        records = [dict(r) for r in payload["residents"]]
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"worklist body is malformed: {exc}") from exc
    if meta.device_id != device_id:
        raise DocumentRejected(
            f"worklist is for device {meta.device_id}, this kit is {device_id}"
        )
    if current_version is not None and meta.version <= current_version:
        raise DocumentRejected(
            f"worklist version {meta.version} is not newer than the roster's "
            f"version {current_version}"
        )
    if meta.expires_at <= now:
        raise DocumentRejected(f"worklist expired on {meta.expires_at:%Y-%m-%d %H:%M} UTC")
    return VerifiedWorklist(meta, records)

