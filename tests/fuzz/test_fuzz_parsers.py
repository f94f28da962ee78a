"""Property-based fuzzing (hypothesis) of every parser that takes bytes from outside: the
packet container and its plaintext ZIP, chunk frames, ingest messages (topic and payload
through the Ingestor), the kit's downlink (ack, config, worklist: random bytes and bodies
validly signed by HQ's key, so the body parsers are reached), provisioning bundles and CSV
rows. Each parser may only answer or raise the project's own error (``RekamError``); the
Ingestor never raises at all. Hypothesis's deadline catches one that hangs.

``make test`` runs a modest number of examples per parser (``FAST``); the ``slow``-marked
twins run ``DEEP`` each (``pytest -m slow tests/fuzz``). Every test counts the inputs it ran
into ``RAN``; the session prints the totals (``-s``)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.canonical import canonical_json
from edge.errors import RekamError
from edge.keys import SEALING_SUITE, SUITE_NAME, SealingPrivateKey, b64, signing_key_id
from edge.signing import sign_document

pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

FAST, DEEP = 60, 3000
RAN: Counter[str] = Counter()
_SETTINGS = {"deadline": timedelta(seconds=5), "derandomize": False, "database": None,
             "suppress_health_check": [HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large]}


def fuzz(name: str, examples: int, strategy: st.SearchStrategy[Any]):  # type: ignore[no-untyped-def]
    """A test running ``check`` on ``examples`` inputs of ``strategy``."""

    def wrap(check):  # type: ignore[no-untyped-def]
        @settings(max_examples=examples, **_SETTINGS)
        @given(strategy)
        def run(value: Any) -> None:
            RAN[name] += 1
            check(value)

        return run

    return wrap


def twins(name: str, strategy: st.SearchStrategy[Any], check, *, deep: int = DEEP,
          fast: int = FAST):  # type: ignore[no-untyped-def]
    quick = fuzz(name, fast, strategy)(check)
    thorough = pytest.mark.slow(fuzz(name, deep, strategy)(check))
    return quick, thorough


def only_rekam_errors(fn, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except RekamError:
        return None


def mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """A valid message, damaged: bytes flipped, cut, spliced or grown."""
    def mutate(data: bytes, flips: list[tuple[int, int]], cut: int, extra: bytes) -> bytes:
        buf = bytearray(data)
        for pos, val in flips:
            if buf:
                buf[pos % len(buf)] = val
        buf = buf[: len(buf) - (cut % (len(buf) + 1))] if cut else buf
        return bytes(buf) + extra

    return st.builds(mutate, st.just(seed),
                     st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)),
                              max_size=8),
                     st.integers(0, 64), st.binary(max_size=64))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids,
                                                              max_size=6),
    max_leaves=20)


# --- keys and one valid message of each kind ---------------------------------------------------

HQ_SIGNING = ed25519.Ed25519PrivateKey.generate()
TRUSTED = {signing_key_id(HQ_SIGNING.public_key()): HQ_SIGNING.public_key()}
DEVICE = ed25519.Ed25519PrivateKey.generate()
HQ_SEALING = SealingPrivateKey.generate()
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _valid_packet() -> bytes:
    from edge.packet import Manifest, seal

    manifest = Manifest(packet_id="01936c4e-0000-7000-8000-000000000001",
                        nik="3275014101050001", device_id="kit-a", operator_id="budi",
                        service_point="x", started_at=NOW.isoformat(),
                        sealed_at=NOW.isoformat(), software_version="t",
                        kelurahan="32.75.01.1001")
    return seal(manifest, {"face.jpeg": b"\xff\xd8\xff" + b"x" * 300}, hq_key=HQ_SEALING.public(),
                device_key=DEVICE, created_at=NOW).data


PACKET = _valid_packet()


# --- the packet container -----------------------------------------------------------------------

def _check_packet(data: bytes) -> None:
    from edge.packet import open_packet, read_header, verify_packet

    only_rekam_errors(read_header, data)
    only_rekam_errors(verify_packet, data, DEVICE.public_key())
    only_rekam_errors(open_packet, data, hq_key=HQ_SEALING, device_key=DEVICE.public_key())


def _header_packet(fields: dict[str, Any]) -> bytes:
    import struct

    from edge.packet import LAYOUT_VERSION, MAGIC

    header = json.dumps(fields).encode()
    body = MAGIC + struct.pack(">BI", LAYOUT_VERSION, len(header)) + header \
        + struct.pack(">I", 4) + b"ciph"
    return body + DEVICE.sign(body)


HEADER_FIELDS = st.fixed_dictionaries(
    {k: st.one_of(st.text(max_size=80), JSONISH) for k in
     ("format", "suite", "hq_key_id", "device_id", "device_key_id", "packet_id",
      "created_at")})
PACKET_INPUTS = st.one_of(st.binary(max_size=600), mutations(PACKET),
                          HEADER_FIELDS.map(_header_packet),
                          st.dictionaries(st.text(max_size=12), JSONISH).map(_header_packet))
test_packet_container, test_packet_container_deep = twins(
    "packet container", PACKET_INPUTS, _check_packet, deep=DEEP // 2)


def _zip_entries(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, method, mode in entries:
            info = zipfile.ZipInfo(name or "x")
            info.compress_type = zipfile.ZIP_DEFLATED if method else zipfile.ZIP_STORED
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _check_container(plaintext: bytes) -> None:
    from edge.packet import ContainerLimits, read_container

    got = read_container(plaintext, ContainerLimits(max_entries=8, max_entry=4096,
                                                    max_total=8192, max_manifest=4096))
    for name, body in got.files.items():  # whatever came in, only safe names come out
        assert "/" not in name and "\\" not in name and ".." not in name and len(body) <= 4096


ZIPS = st.one_of(
    st.binary(max_size=400),
    st.lists(st.tuples(st.text(max_size=30), st.binary(max_size=300), st.integers(0, 1),
                       st.sampled_from([0, 0o100644, 0o120777, 0o20644, 0o40755])),
             max_size=6).map(_zip_entries),
    mutations(_zip_entries([("manifest.json", b'{"a": 1}', 0, 0o100644),
                            ("face.jpeg", b"x" * 200, 0, 0)])),
)
test_packet_plaintext_zip, test_packet_plaintext_zip_deep = twins("packet ZIP", ZIPS,
                                                                  _check_container)


def _check_manifest(value: Any) -> None:
    from edge.manifest_schema import validate_manifest
    from edge.packet import Manifest

    if only_rekam_errors(validate_manifest, value) is None and isinstance(value, dict):
        try:
            validate_manifest(value)
        except RekamError:
            return
        Manifest.from_dict(value)  # what passes the schema always builds


def _manifest_variants() -> st.SearchStrategy[Any]:
    from edge.packet import Manifest

    base = Manifest(packet_id="p1", nik="3275014101050001", device_id="kit-a",
                    operator_id="budi", service_point="x", started_at=NOW.isoformat(),
                    sealed_at=NOW.isoformat(), software_version="t",
                    kelurahan="32.75.01.1001").to_dict()

    def vary(changes: dict[str, Any], drop: list[str]) -> dict[str, Any]:
        out = {**base, **changes}
        for key in drop:
            out.pop(key, None)
        return out

    return st.one_of(JSONISH, st.builds(vary, st.dictionaries(st.sampled_from(sorted(base)),
                                                             JSONISH, max_size=3),
                                        st.lists(st.sampled_from(sorted(base)), max_size=2)))


test_manifest_schema, test_manifest_schema_deep = twins("manifest schema",
                                                        _manifest_variants(), _check_manifest)


# --- chunk frames ---------------------------------------------------------------------------------

def _check_chunk(payload: bytes) -> None:
    from sync.protocol.chunks import decode_chunk

    only_rekam_errors(decode_chunk, payload, max_packet=1 << 20)


def _frame(meta: Any, data: bytes) -> bytes:
    import struct

    raw = json.dumps(meta).encode() if not isinstance(meta, bytes) else meta
    return b"RKMC" + struct.pack(">BH", 1, min(len(raw), 65535)) + raw + data


CHUNK_META = st.fixed_dictionaries({k: JSONISH | st.integers(-5, 10**9) for k in
                                    ("packet_id", "sha256", "total", "count", "index",
                                     "offset")})
CHUNKS = st.one_of(st.binary(max_size=300), st.builds(_frame, CHUNK_META, st.binary(max_size=80)),
                   st.builds(_frame, JSONISH, st.binary(max_size=40)),
                   mutations(_frame({"packet_id": "p", "sha256": "0" * 64, "total": 5,
                                     "count": 1, "index": 0, "offset": 0}, b"hello")))
test_chunk_frames, test_chunk_frames_deep = twins("chunk frames", CHUNKS, _check_chunk)


# --- the kit's downlink -------------------------------------------------------------------------

def _signed(kind: str, body: Any, *, gz: bool = False) -> bytes:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return sign_document(kind, gzip.compress(raw, mtime=0) if gz else raw, HQ_SIGNING)


def _check_downlink(item: tuple[str, bytes]) -> None:
    from edge.worklist import verify_worklist
    from sync.protocol.acks import verify_ack
    from sync.protocol.config import verify_config

    kind, data = item
    if kind == "ack":
        only_rekam_errors(verify_ack, data, trusted=TRUSTED, device_id="kit-a")
    elif kind == "config":
        only_rekam_errors(verify_config, data, trusted=TRUSTED, device_id="kit-a",
                          current_version=0, now=NOW)
    else:
        only_rekam_errors(verify_worklist, data, trusted=TRUSTED, device_id="kit-a",
                          kit_key=KIT_WORKLIST_KEY, current_version=None, now=NOW)


def _body(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(JSONISH, st.builds(lambda ch: {**base, **ch}, st.dictionaries(
        st.sampled_from(sorted(base)), JSONISH, max_size=3)))


ACK = {"device_id": "kit-a", "packet_id": "p", "sha256": "0" * 64, "status": "stored",
       "received_at": NOW.isoformat(), "reason": ""}
CONFIG = {"device_id": "kit-a", "version": 2, "issued_at": NOW.isoformat(),
          "expires_at": (NOW + timedelta(days=1)).isoformat(),
          "settings": {"language": "en", "lockout_minutes": "5"}}
WORKLIST = {"device_id": "kit-a", "version": 1, "issued_at": NOW.isoformat(),
            "expires_at": (NOW + timedelta(days=1)).isoformat(), "kelurahan": ["32.75.01.1001"],
            "schedule": [{"date": "2026-11-25", "place": "x", "kelurahan": "32.75.01.1001",
                          "rw": "005"}], "residents": [{"nik": "3275014101050001"}]}
KIT_WORKLIST_KEY = SealingPrivateKey.generate()
SEALED_WORKLIST = {"format": "rekam-worklist/2", "suite": SUITE_NAME,
                   "kit_key_id": KIT_WORKLIST_KEY.public().key_id, "device_id": "kit-a",
                   "version": 1, "issued_at": NOW.isoformat(),
                   "expires_at": (NOW + timedelta(days=1)).isoformat(), "residents": 1,
                   "ciphertext": b64(bytes(1200))}


def _sealed(header: Any, plaintext: bytes) -> bytes:
    """A worklist sealed to the kit's key around any plaintext (a hostile HQ key holder)."""
    if not isinstance(header, dict):
        return _signed("worklist", header)
    try:  # canonical JSON refuses NaN and infinities: such a header goes unsealed
        info = canonical_json({k: v for k, v in header.items() if k != "ciphertext"})
        sealed = SEALING_SUITE.encrypt(plaintext, KIT_WORKLIST_KEY.public().to_hpke(), info=info)
    except (TypeError, ValueError):
        return _signed("worklist", header)
    return _signed("worklist", {**header, "ciphertext": b64(sealed)})


DOWNLINK = st.one_of(
    st.tuples(st.sampled_from(["ack", "config", "worklist"]), st.binary(max_size=300)),
    st.tuples(st.just("ack"), _body(ACK).map(lambda b: _signed("ack", b))),
    st.tuples(st.just("config"), _body(CONFIG).map(lambda b: _signed("config", b))),
    st.tuples(st.just("worklist"), _body(WORKLIST).map(lambda b: _signed("worklist", b,
                                                                          gz=True))),
    st.tuples(st.just("worklist"), st.binary(max_size=200).map(
        lambda b: sign_document("worklist", b, HQ_SIGNING))),
    st.tuples(st.just("worklist"), _body(SEALED_WORKLIST).map(lambda b: _signed("worklist", b))),
    st.tuples(st.just("worklist"), st.builds(
        _sealed, _body(SEALED_WORKLIST),
        st.one_of(st.binary(max_size=200), _body(WORKLIST).map(
            lambda b: gzip.compress(json.dumps(b).encode(), mtime=0))))),
    st.tuples(st.sampled_from(["ack", "config"]), mutations(_signed("config", CONFIG))),
)
test_kit_downlink, test_kit_downlink_deep = twins("downlink (ack, config, worklist)", DOWNLINK,
                                                  _check_downlink)


# --- provisioning bundles -----------------------------------------------------------------------

def _check_bundle(data: bytes) -> None:
    from edge.provisioning import open_bundle

    only_rekam_errors(open_bundle, data, "ABCDE-FGH23-JKMNP-QRS45")


BUNDLE_OUTER = {"format": "rekam-bundle/1", "device_id": "kit-a",
                "salt": "AAAAAAAAAAAAAAAAAAAAAA==", "nonce": "AAAAAAAAAAAAAAAA",
                "ciphertext": "AAAA"}
BUNDLES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda ch: json.dumps({**BUNDLE_OUTER, **ch}).encode(),
              st.dictionaries(st.sampled_from(sorted(BUNDLE_OUTER)),
                              JSONISH | st.binary(max_size=20).map(
                                  lambda b: __import__("base64").b64encode(b).decode()),
                              max_size=3)),
)
# Argon2id (32 MiB) runs for every bundle that parses: fewer examples
test_provisioning_bundles, test_provisioning_bundles_deep = twins(
    "provisioning bundles", BUNDLES, _check_bundle, fast=25, deep=400)


# --- CSV rows -----------------------------------------------------------------------------------

ROW = {"nik": "3275014101050001", "no_kk": "3275010101200003", "nama": "Siti Rahmawati",
       "jenis_kelamin": "P", "tempat_lahir": "BEKASI", "tanggal_lahir": "2005-01-01",
       "status_kawin": "BELUM KAWIN", "alamat": "Jl. Merdeka No. 5", "rt": "003", "rw": "005",
       "kode_kelurahan": "32.75.01.1001", "kode_kecamatan": "32.75.01"}


def _check_row(record: dict[str, str]) -> None:
    from edge.residents import Resident

    only_rekam_errors(Resident.from_record, record, line=2,
                      today=datetime(2026, 11, 24).date())


ROWS = st.one_of(
    st.builds(lambda ch: {**ROW, **ch}, st.dictionaries(st.sampled_from(sorted(ROW)),
                                                         st.text(max_size=60), max_size=4)),
    st.dictionaries(st.text(max_size=15), st.text(max_size=30), max_size=14),
)
test_csv_rows, test_csv_rows_deep = twins("CSV rows", ROWS, _check_row)


def _check_csv_file(text: bytes) -> None:
    import os
    import tempfile

    from edge.residents_csv import read_csv

    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
        try:
            for _ in read_csv(path, today=datetime(2026, 11, 24).date()):
                pass
        except RekamError:
            pass
    finally:
        os.unlink(path)


HEADER = ",".join(ROW).encode()
CSV_FILES = st.one_of(
    st.binary(max_size=300),
    st.lists(st.lists(st.text(max_size=20), max_size=14), max_size=5).map(
        lambda rows: HEADER + b"\n" + "\n".join(",".join(r) for r in rows).encode()),
    mutations(HEADER + b"\n" + ",".join(ROW.values()).encode() + b"\n"),
)
test_csv_files, test_csv_files_deep = twins("CSV files", CSV_FILES, _check_csv_file)


# --- ingest: topic and payload through the Ingestor -------------------------------------------

@pytest.fixture(scope="module")
def ingest_world(tmp_path_factory):  # type: ignore[no-untyped-def]
    from edge.config import KitPaths
    from edge.kit import Kit, install_bundle
    from edge.operators import KdfParams
    from edge.provisioning import open_bundle
    from hq.db import make_engine
    from hq.devices import add_device
    from hq.home import HqHome
    from hq.ingest import Ingestor

    tmp = tmp_path_factory.mktemp("fuzz-ingest")
    home = HqHome(tmp / "hq")
    keys = home.init()
    engine = make_engine(f"sqlite:///{tmp / 'hq.db'}")
    bundle, code = add_device(engine, keys, "kit-a", ["32.75.01.1001"], "mqtts://x:1")
    install_bundle(KitPaths(tmp / "kit"), open_bundle(bundle, code))
    kit = Kit(tmp / "kit", kdf=KdfParams(memory_kib=8192, iterations=1))
    yield Ingestor(engine, keys), kit
    kit.close()
    engine.dispose()


TOPICS = st.one_of(
    st.sampled_from(["rekam/v1/kit-a/up/packet", "rekam/v1/kit-a/up/status",
                     "rekam/v1/kit-a/up/report", "rekam/v1/kit-z/up/packet",
                     "rekam/v1/kit-a/down/ack", "rekam/v2/kit-a/up/packet"]),
    st.text(max_size=60))


def _ingest_payloads() -> st.SearchStrategy[bytes]:
    from sync.protocol.chunks import Chunk

    good = Chunk("p1", hashlib.sha256(PACKET).hexdigest(), len(PACKET), 1, 0, 0, PACKET)
    return st.one_of(st.binary(max_size=300), CHUNKS, mutations(good.encode()),
                     st.builds(lambda meta: _frame(meta, PACKET), CHUNK_META),
                     mutations(_signed("status", {"device_id": "kit-a", "state": "online",
                                                  "at": NOW.isoformat()})))


def test_ingest_messages(ingest_world):  # type: ignore[no-untyped-def]
    _ingest(ingest_world, FAST)


@pytest.mark.slow
def test_ingest_messages_deep(ingest_world):  # type: ignore[no-untyped-def]
    _ingest(ingest_world, DEEP // 3)


def _ingest(world, examples: int) -> None:  # type: ignore[no-untyped-def]
    from sync.mqtt import Incoming

    ingestor, _kit = world

    @settings(max_examples=examples, **_SETTINGS)
    @given(st.lists(st.tuples(TOPICS, _ingest_payloads()), min_size=1, max_size=4))
    def run(messages: list[tuple[str, bytes]]) -> None:
        RAN["ingest messages"] += len(messages)
        before = sum(ingestor.counts.values())
        ingestor.handle_batch([Incoming(t, p, False) for t, p in messages])  # never raises
        assert sum(ingestor.counts.values()) > before or ingestor.holding
        assert ingestor.counts["internal"] == 0, "an input reached an unexpected error"
        ingestor.flush()

    run()


def teardown_module() -> None:
    if RAN:
        print("\nfuzzed inputs: " + ", ".join(f"{k} {v}" for k, v in sorted(RAN.items()))
              + f" (total {sum(RAN.values())})")
