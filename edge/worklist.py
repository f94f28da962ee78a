"""Worklists: HQ's signed list of the residents a kit should record, and its visit schedule,
sealed so that only the kit it is for, unlocked by an operator's PIN, can read it.

A worklist is a signed document (kind ``worklist``, :mod:`edge.signing`) whose body is
canonical JSON: a clear header that holds no personal data, and the residents sealed with
HPKE to the kit's **worklist key** (``docs/protocol/encoding.md``)::

    {"format": "rekam-worklist/2", "suite": SUITE_NAME, "kit_key_id": 16 hex,
     "device_id", "version", "issued_at", "expires_at", "residents": count,
     "ciphertext": base64(HPKE enc || AEAD output)}

The HPKE ``info`` is the canonical JSON of the header without ``ciphertext``, so a
ciphertext cannot be moved under another header. The plaintext is the gzipped canonical
JSON the worklist always carried::

    {"device_id", "version", "issued_at", "expires_at", "kelurahan": [...],
     "schedule": [{"date", "place", "kelurahan", "rw", "note"}], "residents": [record, ...]}

Residents use the SIAK-like CSV columns (:data:`edge.resident_record.CSV_COLUMNS`) plus
``kode_undangan``. The sync daemon holds no PIN: it checks what the header says
(:func:`read_worklist`: HQ's signature, this device, this kit's key, a newer version, not
expired) and keeps the sealed bytes. An operator's login unwraps the worklist key and
opens them (:func:`open_worklist`), which checks that the sealed payload says what the
header says. A worklist that is not sealed (the format before this one) is refused.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.canonical import canonical_json
from edge.clock import wib
from edge.errors import DocumentRejected, IntegrityError, InvalidInput
from edge.keys import SEALING_SUITE as _SUITE
from edge.keys import SUITE_NAME, SealingPrivateKey, SealingPublicKey, b64, unb64
from edge.residents import Resident
from edge.roster import RosterMeta, ScheduleEntry
from edge.signing import open_document, parse_document, sign_document

KIND = "worklist"
FORMAT = "rekam-worklist/2"
MAX_BODY = 512 * 1024 * 1024  # decompressed; a 100,000-row worklist is about 30 MB
_HEADER_FIELDS = ("format", "suite", "kit_key_id", "device_id", "version", "issued_at",
                  "expires_at", "residents")


@dataclass(frozen=True)
class SealedWorklist:
    """A worklist whose signature and header were checked; its residents still sealed."""

    device_id: str
    version: int
    issued_at: datetime
    expires_at: datetime
    residents: int
    kit_key_id: str
    header: bytes  # the HPKE info: canonical JSON of the header
    ciphertext: bytes


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
    kit_key: SealingPublicKey,
) -> bytes:
    """Seal the worklist to the kit's worklist key and sign it with HQ's key."""
    records = [r.to_record() for r in residents]
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
        "residents": records,
    }
    header = {
        "format": FORMAT, "suite": SUITE_NAME, "kit_key_id": kit_key.key_id,
        "device_id": device_id, "version": version, "issued_at": issued_at.isoformat(),
        "expires_at": expires_at.isoformat(), "residents": len(records),
    }
    plaintext = gzip.compress(canonical_json(payload), compresslevel=6, mtime=0)
    ciphertext = _SUITE.encrypt(plaintext, kit_key.to_hpke(), info=canonical_json(header))
    body = canonical_json({**header, "ciphertext": b64(ciphertext)})
    return sign_document(KIND, body, signing_key)


def read_worklist(
    data: bytes,
    *,
    trusted: Mapping[str, ed25519.Ed25519PublicKey],
    device_id: str,
    kit_key_id: str | None,
    current_version: int | None,
    now: datetime,
) -> SealedWorklist:
    """Check HQ's signature and the clear header (device, kit key, version, expiry) without
    opening the residents; raise before anything is changed. ``kit_key_id`` None skips the
    key check (a kit that has no worklist key yet refuses later, at opening)."""
    doc = open_document(data, kind=KIND, trusted=trusted)
    try:
        body: dict[str, Any] = json.loads(doc.body)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError):
        raise DocumentRejected(
            "this worklist is not sealed to the kit (an older HQ made it): HQ must send "
            "a sealed one") from None
    if body.get("format") != FORMAT:
        raise DocumentRejected(f"worklist format {str(body.get('format'))[:32]!r} is not "
                               f"{FORMAT}: HQ must send a sealed worklist")
    try:
        if body["suite"] != SUITE_NAME:
            raise ValueError(f"unknown suite {str(body['suite'])[:64]!r}")
        header = {name: body[name] for name in _HEADER_FIELDS}
        sealed = SealedWorklist(
            device_id=str(body["device_id"]),
            version=_integer(body["version"]),
            issued_at=_aware(body["issued_at"]),
            expires_at=_aware(body["expires_at"]),
            residents=_integer(body["residents"]),
            kit_key_id=str(body["kit_key_id"]),
            header=canonical_json(header),
            ciphertext=unb64(str(body["ciphertext"]), "worklist ciphertext"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"worklist header is malformed: {exc}") from exc
    if sealed.device_id != device_id:
        raise DocumentRejected(
            f"worklist is for device {sealed.device_id[:32]}, this kit is {device_id}"
        )
    if kit_key_id is not None and sealed.kit_key_id != kit_key_id:
        raise DocumentRejected(
            f"worklist is sealed to worklist key {sealed.kit_key_id[:16]}, this kit holds "
            f"{kit_key_id}: HQ must seal it to the key the kit announced"
        )
    if current_version is not None and sealed.version <= current_version:
        raise DocumentRejected(
            f"worklist version {sealed.version} is not newer than the roster's "
            f"version {current_version}"
        )
    if sealed.expires_at <= now:
        raise DocumentRejected(f"worklist expired on {wib(sealed.expires_at)}")
    return sealed


def open_worklist(sealed: SealedWorklist, kit_key: SealingPrivateKey) -> VerifiedWorklist:
    """Decrypt the residents with the kit's (unwrapped) worklist key and check that the
    sealed payload says what the signed header says."""
    if kit_key.public().key_id != sealed.kit_key_id:
        raise DocumentRejected(
            f"worklist is sealed to worklist key {sealed.kit_key_id[:16]}, not this kit's")
    try:
        plaintext = _SUITE.decrypt(sealed.ciphertext, kit_key.to_hpke(), info=sealed.header)
    except InvalidTag:
        raise IntegrityError("worklist does not decrypt with this kit's worklist key") from None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(plaintext)) as fh:
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
    said = (sealed.device_id, sealed.version, sealed.issued_at, sealed.expires_at,
            sealed.residents)
    if (meta.device_id, meta.version, meta.issued_at, meta.expires_at, meta.count) != said:
        raise IntegrityError("the sealed worklist does not say what its signed header says")
    return VerifiedWorklist(meta, records)


def is_sealed(data: bytes) -> bool:
    """Whether ``data`` looks like a sealed worklist (signature not checked): a kit shreds a
    staged worklist of the unsealed format it finds after an update."""
    try:
        body = json.loads(parse_document(data).body)
    except (InvalidInput, ValueError, UnicodeDecodeError):
        return False
    return isinstance(body, dict) and body.get("format") == FORMAT


def verify_worklist(
    data: bytes,
    *,
    trusted: Mapping[str, ed25519.Ed25519PublicKey],
    device_id: str,
    kit_key: SealingPrivateKey,
    current_version: int | None,
    now: datetime,
) -> VerifiedWorklist:
    """Check signature, device, key, version and expiry, then open; raise before anything
    is changed."""
    sealed = read_worklist(data, trusted=trusted, device_id=device_id,
                           kit_key_id=kit_key.public().key_id,
                           current_version=current_version, now=now)
    return open_worklist(sealed, kit_key)


def _integer(value: object) -> int:
    if type(value) is not int or not 0 <= value < 2**31:
        raise ValueError(f"{str(value)[:20]!r} is not a count")
    return value


def _aware(value: object) -> datetime:
    when = datetime.fromisoformat(str(value)[:40])
    if when.tzinfo is None:
        raise ValueError("a time without its zone")
    return when
