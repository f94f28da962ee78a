"""HQ distrusts what it opens: :func:`inspect_packet` verifies, decrypts and reads a sealed
packet, then checks it and returns every doubt as a typed :class:`Flag`, never silently
accepting. ``rekam-hq open`` prints the flags; the vault routes a flagged packet to review.

It raises only when HQ cannot tell who sent the packet or cannot decrypt it (unknown or
revoked-key device, bad signature, sealed to another key, unknown suite): such a packet is
not one to review but one HQ cannot read at all (ingest refuses those before storing).
Everything inside the ciphertext is the kit's word and is checked here:

- the container: only single safe names, regular stored entries, sizes within the caps;
- the manifest: the JSON Schema ``edge/schemas/manifest.schema.json`` (the one the kit
  checks before sealing), a known format version, the same packet and device as the
  signed header;
- a full capture set (face, signature, ten fingers, two irises), each slot captured or
  excused by an approved exception, once; the listed files present, of their format;
- sane times: capture and approval times within the enrolment, the enrolment within a
  day, sealed when the header says, not in the future, not before the kit was registered;
- the kit's kelurahan, and a NIK HQ sent that kit (:class:`hq.issued.ResidentSource`);
- simulated captures from a kit not registered for training (and every packet of a
  training kit, which is never a real recording);
- device evidence: a fingerprint or iris from a real device must carry the device's
  signed capture (an SBI JWS), which HQ verifies itself: signature, the device
  provider's CA (``sbi_ca`` in HQ's config or ``REKAM_SBI_CA``), and that the signed
  record holds exactly the packet's image;
- the audit anchor: the manifest's audit head against every head HQ saw of that kit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine

from edge.errors import RekamError
from edge.manifest_schema import ManifestInvalid, manifest_format, validate_manifest
from edge.packet import (
    ContainerLimits,
    Manifest,
    OpenedPacket,
    PacketHeader,
    decrypt_packet,
    read_container,
    read_header,
)
from hal.errors import CaptureUntrusted, HalError
from hal.sbi_evidence import SbiTrust, b64url_decode, image_from_record, verify_jws
from hq.devices import Device, get_device
from hq.home import HqKeys
from hq.issued import IssuedWorklists, ResidentSource

FINGERS = ("right_thumb", "right_index", "right_middle", "right_ring", "right_little",
           "left_thumb", "left_index", "left_middle", "left_ring", "left_little")
EYES = ("right", "left")
FULL_SET = (("face", None), ("signature", None), *(("finger", f) for f in FINGERS),
            *(("iris", e) for e in EYES))
CLOCK_SKEW = timedelta(minutes=10)  # a kit's clock may be this far off HQ's
MAX_ENROLMENT = timedelta(hours=24)
SEAL_SLACK = timedelta(minutes=5)  # header created_at vs manifest sealed_at
_MAGIC = {"jpeg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",),
          "jp2": (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")}
_SBI_SUBTYPE = {
    "right_thumb": "Right Thumb", "right_index": "Right IndexFinger",
    "right_middle": "Right MiddleFinger", "right_ring": "Right RingFinger",
    "right_little": "Right LittleFinger", "left_thumb": "Left Thumb",
    "left_index": "Left IndexFinger", "left_middle": "Left MiddleFinger",
    "left_ring": "Left RingFinger", "left_little": "Left LittleFinger",
    "right": "Right", "left": "Left",
}


class FlagCode(StrEnum):
    CONTAINER = "container"  # unsafe, oversized or unreadable entries in the ZIP
    UNKNOWN_FORMAT = "unknown_format"  # a manifest format version HQ does not know
    SCHEMA = "schema"  # the manifest breaks the schema
    HEADER_MISMATCH = "header_mismatch"  # manifest and signed header disagree
    INCOMPLETE = "incomplete"  # a slot neither captured nor excused, or twice
    FILES = "files"  # listed files missing or of another format; unlisted files
    TIMESTAMPS = "timestamps"
    KELURAHAN = "kelurahan"  # a kelurahan the kit does not serve
    NOT_ON_WORKLIST = "not_on_worklist"  # a NIK HQ never sent that kit
    SIMULATED = "simulated"  # simulated captures from a kit not registered for training
    TRAINING = "training"  # a training kit's packet: never a real recording
    EVIDENCE_MISSING = "evidence_missing"  # a real finger/iris device's signed capture absent
    EVIDENCE_INVALID = "evidence_invalid"  # present but does not verify or match the image
    EVIDENCE_UNTRUSTED = "evidence_untrusted"  # verifies, but not from a trusted provider
    AUDIT_ANCHOR = "audit_anchor"  # the kit's audit head forks or goes backwards
    DEVICE_NOT_ACTIVE = "device_not_active"  # the kit is revoked or disabled


@dataclass(frozen=True)
class Flag:
    code: FlagCode
    message: str  # one sentence, for a person
    field: str | None = None  # the manifest field at fault, where there is one

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Inspection:
    """An opened packet and what HQ doubts about it. ``files`` holds only the files the
    manifest lists (images and device evidence), by safe single names; empty when the
    manifest is unreadable. ``manifest`` is None when it fails the schema (``raw_manifest``
    is then what the packet held)."""

    header: PacketHeader
    device_id: str
    manifest: Manifest | None
    raw_manifest: Any
    files: dict[str, bytes]
    flags: tuple[Flag, ...]
    # HQ registered the sending kit for training (devices.training): never a real recording,
    # whatever the packet says of itself.
    training: bool = False

    @property
    def clean(self) -> bool:
        return not self.flags

    @property
    def opened(self) -> OpenedPacket | None:
        if self.manifest is None:
            return None
        return OpenedPacket(self.header, self.manifest, dict(self.files))

    def flagged(self, code: FlagCode) -> list[Flag]:
        return [f for f in self.flags if f.code is code]


def hq_sbi_trust(config: dict[str, Any] | None = None) -> SbiTrust:
    """The device providers' CAs HQ trusts: ``sbi_ca`` in HQ's config.json, else the file
    ``REKAM_SBI_CA`` names, else none (evidence is then only self-attested)."""
    path = str((config or {}).get("sbi_ca") or "").strip()
    return SbiTrust.from_bundle(path) if path else SbiTrust.from_env()


def inspect_packet(engine: Engine, keys: HqKeys, data: bytes, *,
                   now: datetime | None = None, residents: ResidentSource | None = None,
                   sbi_trust: SbiTrust | None = None,
                   limits: ContainerLimits | None = None,
                   record_anchor: bool = True) -> Inspection:
    """Open ``data`` (a sealed packet's exact bytes) and check everything in it.

    Raises (``edge.errors``) only when the packet cannot be attributed or decrypted: not a
    Rekam packet, unknown device, bad signature, another HQ key, unknown suite. With
    ``record_anchor`` the manifest's audit head is kept as the kit's anchor
    (:mod:`hq.anchors`)."""
    now = now or datetime.now(UTC)
    header = read_header(data)
    device = get_device(engine, header.device_id)
    header, plaintext = decrypt_packet(data, hq_key=keys.sealing,
                                       device_key=device.signing_public)
    container = read_container(plaintext, limits or ContainerLimits())
    flags: list[Flag] = [Flag(FlagCode.CONTAINER, p) for p in container.problems]
    if device.status != "active":
        flags.append(Flag(FlagCode.DEVICE_NOT_ACTIVE,
                          f"kit {device.device_id} is {device.status} at HQ"))
    raw = container.manifest
    manifest: Manifest | None = None
    if raw is not None:
        fmt = manifest_format(raw)
        try:
            validate_manifest(raw)
            manifest = Manifest.from_dict(raw)
        except ManifestInvalid as exc:
            code = FlagCode.UNKNOWN_FORMAT if exc.field == "format" and fmt else FlagCode.SCHEMA
            flags.append(Flag(code, str(exc), exc.field))
        except (TypeError, ValueError) as exc:  # the schema should make this unreachable
            flags.append(Flag(FlagCode.SCHEMA, f"manifest does not fit the packet format: "
                              f"{exc}"))
    files: dict[str, bytes] = {}
    if manifest is not None:
        files = _listed_files(manifest, container.files, flags)
        checks = _Checks(engine, device, header, manifest, files, now, flags)
        checks.run(residents or IssuedWorklists(engine), sbi_trust or SbiTrust.from_env(),
                   record_anchor)
    return Inspection(header, device.device_id, manifest, raw, files, tuple(flags),
                      training=device.training)


def _listed_files(manifest: Manifest, present: dict[str, bytes], flags: list[Flag]
                  ) -> dict[str, bytes]:
    listed: dict[str, str] = {}
    for c in manifest.captures:
        listed[c.file] = c.image_format
        if c.evidence:
            listed[c.evidence] = "jws"
    files = {n: present[n] for n in listed if n in present}
    missing = sorted(set(listed) - set(present))
    if missing:
        flags.append(Flag(FlagCode.FILES, "the manifest lists files the packet does not hold: "
                          + ", ".join(missing)))
    unlisted = sorted(set(present) - set(listed))
    if unlisted:
        shown = ", ".join(repr(n) for n in unlisted[:8]) + (" ..." if len(unlisted) > 8 else "")
        flags.append(Flag(FlagCode.FILES, f"the packet holds {len(unlisted)} files the "
                          f"manifest does not list (not extracted): {shown}"))
    for name, fmt in listed.items():
        body = files.get(name)
        if body is not None and fmt in _MAGIC and not body.startswith(_MAGIC[fmt]):
            flags.append(Flag(FlagCode.FILES, f"{name} is not a {fmt.upper()} image, "
                              "whatever the manifest says", "captures"))
    return files


def _time(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass
class _Checks:
    engine: Engine
    device: Device
    header: PacketHeader
    m: Manifest
    files: dict[str, bytes]
    now: datetime
    flags: list[Flag] = field(default_factory=list)

    def flag(self, code: FlagCode, message: str, fld: str | None = None) -> None:
        self.flags.append(Flag(code, message, fld))

    def run(self, residents: ResidentSource, trust: SbiTrust, record_anchor: bool) -> None:
        m, header = self.m, self.header
        if m.packet_id != header.packet_id or m.device_id != header.device_id:
            self.flag(FlagCode.HEADER_MISMATCH,
                      f"the manifest names packet {m.packet_id} of {m.device_id}, the signed "
                      f"header packet {header.packet_id} of {header.device_id}")
        self.capture_set()
        try:
            self.times()
        except ValueError as exc:  # the schema's date-time admits forms Python cannot read
            self.flag(FlagCode.TIMESTAMPS, f"a time in the manifest cannot be read: {exc}")
        self.place(residents)
        self.simulated()
        self.evidence(trust)
        if record_anchor:
            self.anchor()

    def capture_set(self) -> None:
        seen: dict[tuple[str, str | None], int] = {}
        for c in self.m.captures:
            seen[(c.modality, c.position)] = seen.get((c.modality, c.position), 0) + 1
        for e in self.m.exceptions:
            seen[(e.modality, e.position)] = seen.get((e.modality, e.position), 0) + 1
        missing = [f"{mod} {pos}" if pos else mod for mod, pos in FULL_SET
                   if (mod, pos) not in seen]
        twice = [f"{mod} {pos}" if pos else mod for (mod, pos), n in seen.items() if n > 1]
        if missing:
            self.flag(FlagCode.INCOMPLETE, "neither captured nor excused by an approved "
                      "exception: " + ", ".join(missing), "captures")
        if twice:
            self.flag(FlagCode.INCOMPLETE, "captured or excused more than once: "
                      + ", ".join(twice), "captures")

    def times(self) -> None:
        m = self.m
        started, sealed = _time(m.started_at), _time(m.sealed_at)
        problems = []
        if sealed < started:
            problems.append(f"sealed ({m.sealed_at}) before it started ({m.started_at})")
        elif sealed - started > MAX_ENROLMENT:
            problems.append(f"the enrolment took {sealed - started} (more than a day)")
        if sealed > self.now + CLOCK_SKEW:
            problems.append(f"sealed in the future ({m.sealed_at}; HQ's clock says "
                            f"{self.now:%Y-%m-%d %H:%M} UTC)")
        registered = self.device.created_at
        if sealed < registered - CLOCK_SKEW:
            problems.append(f"sealed ({m.sealed_at}) before the kit was registered "
                            f"({registered:%Y-%m-%d %H:%M} UTC)")
        created = _time(self.header.created_at)
        if abs(created - sealed) > SEAL_SLACK:
            problems.append(f"the signed header says it was sealed at "
                            f"{self.header.created_at}, the manifest {m.sealed_at}")
        low, high = started - CLOCK_SKEW / 10, sealed + CLOCK_SKEW / 10
        outside = [f"{c.modality} {c.position or ''}".strip() for c in m.captures
                   if not low <= _time(c.captured_at) <= high]
        outside += [f"exception {e.position}" for e in m.exceptions
                    if not low <= _time(e.approved_at) <= high]
        if outside:
            problems.append("outside the enrolment's start and seal: " + ", ".join(outside))
        for problem in problems:
            self.flag(FlagCode.TIMESTAMPS, problem)

    def place(self, residents: ResidentSource) -> None:
        m, device = self.m, self.device
        if m.kelurahan not in device.kelurahan:
            self.flag(FlagCode.KELURAHAN, f"kelurahan {m.kelurahan} is not one kit "
                      f"{device.device_id} serves ({', '.join(device.kelurahan)})", "kelurahan")
        known = residents.resident_for_kit(device.device_id, m.nik)
        if known is None:
            self.flag(FlagCode.NOT_ON_WORKLIST, f"NIK {m.nik} is on no worklist HQ sent kit "
                      f"{device.device_id}", "nik")
        elif known.kelurahan != m.kelurahan:
            self.flag(FlagCode.KELURAHAN, f"the manifest says kelurahan {m.kelurahan}, HQ's "
                      f"worklist {known.kelurahan} for NIK {m.nik}", "kelurahan")

    def simulated(self) -> None:
        if self.device.training:
            self.flag(FlagCode.TRAINING, f"kit {self.device.device_id} is registered for "
                      "training: this is not a real recording")
            return
        sims = [f"{c.modality} {c.position or ''}".strip() for c in self.m.captures
                if c.device_backend == "sim"]
        if sims:
            self.flag(FlagCode.SIMULATED, f"{len(sims)} captures come from simulated devices "
                      f"on kit {self.device.device_id}, which is not registered for "
                      f"training: {', '.join(sims[:4])}{' ...' if len(sims) > 4 else ''}")

    def evidence(self, trust: SbiTrust) -> None:
        self_attested: list[str] = []
        for c in self.m.captures:
            if c.modality not in ("finger", "iris") or c.device_backend == "sim":
                continue
            slot = f"{c.modality} {c.position}"
            if not c.evidence:
                self.flag(FlagCode.EVIDENCE_MISSING, f"{slot} from {c.device_backend} "
                          f"({c.device_model}) carries no signed capture from the device: HQ "
                          "has only the kit's word for it", "captures")
                continue
            token = self.files.get(c.evidence)
            if token is None:
                continue  # already flagged as a missing file
            if self._verify(slot, c.modality, c.position or "", c.file, token, trust):
                self_attested.append(slot)
        if self_attested:
            self.flag(FlagCode.EVIDENCE_UNTRUSTED, "the devices' signatures verify against the "
                      "certificates they sent, but HQ holds no device-provider CA to check "
                      "those certificates (set sbi_ca in HQ's config.json): "
                      + ", ".join(self_attested))

    def _verify(self, slot: str, modality: str, position: str, image_name: str,
                token: bytes, trust: SbiTrust) -> bool:
        """Flag what is wrong with one capture's evidence; True when it verified but only
        against the certificate the device sent (HQ has no CA to check it against)."""
        try:
            payload = verify_jws(token.decode("ascii"), trust, device=modality,
                                 now=self.now)
        except UnicodeDecodeError:
            self.flag(FlagCode.EVIDENCE_INVALID, f"{slot}: the device evidence is not a JWS")
            return False
        except CaptureUntrusted as exc:
            code = (FlagCode.EVIDENCE_UNTRUSTED if "trusted device provider" in exc.message
                    else FlagCode.EVIDENCE_INVALID)
            self.flag(code, f"{slot}: {exc.message}")
            return False
        except HalError as exc:
            self.flag(FlagCode.EVIDENCE_INVALID, f"{slot}: {exc.message}")
            return False
        try:
            signed_image = image_from_record(b64url_decode(str(payload.get("bioValue", ""))))
        except (HalError, ValueError) as exc:
            self.flag(FlagCode.EVIDENCE_INVALID, f"{slot}: the signed capture holds no "
                      f"image ({exc})")
            return False
        if signed_image != self.files.get(image_name):
            self.flag(FlagCode.EVIDENCE_INVALID, f"{slot}: the image in the packet is not "
                      "the one the device signed")
        sub = payload.get("bioSubType")
        if sub is not None and sub != _SBI_SUBTYPE.get(position):
            self.flag(FlagCode.EVIDENCE_INVALID, f"{slot}: the device signed a capture of "
                      f"{str(sub)[:40]!r}, not {_SBI_SUBTYPE.get(position)!r}")
        return not trust.cas

    def anchor(self) -> None:
        from hq.anchors import record_head

        try:
            alerts = record_head(self.engine, self.device.device_id, self.m.audit_head,
                                 _time(self.m.sealed_at), f"packet {self.m.packet_id}",
                                 self.now)
        except RekamError:
            return
        for alert in alerts:
            self.flag(FlagCode.AUDIT_ANCHOR, alert.detail, "audit_head")


def flags_json(inspection: Inspection) -> list[dict[str, Any]]:
    return [{"code": f.code.value, "message": f.message, "field": f.field}
            for f in inspection.flags]
