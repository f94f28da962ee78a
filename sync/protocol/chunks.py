"""Chunk frames on ``up/packet`` (``sync/PROTOCOL.md``, "Packets: chunk frames"): a sealed
packet split into frames the kit sends, their decoding and checks, and HQ's reassembly."""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from edge.canonical import canonical_json
from sync.errors import ProtocolError
from sync.protocol.documents import _SHA256

DEFAULT_CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 1024 * 1024  # a frame larger than this is refused, whatever its metadata
MAX_PACKET_SIZE = 64 * 1024 * 1024
MAX_CHUNKS = 4096

CHUNK_MAGIC = b"RKMC"
CHUNK_LAYOUT = 1
_CHUNK_FIXED = struct.Struct(">4sBH")  # magic, layout, metadata length
MAX_CHUNK_META = 1024

_PACKET_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")


@dataclass(frozen=True)
class Chunk:
    """One MQTT message on ``up/packet``: a slice of one sealed packet.

    Every chunk repeats the whole packet's id, SHA-256 (of its exact wire bytes, the hash
    HQ's ack names), total size and chunk count, so HQ can reassemble chunks arriving in
    any order, from any number of sends, across disconnects.
    """

    packet_id: str
    sha256: str
    total: int
    count: int
    index: int
    offset: int
    data: bytes

    def meta(self) -> dict[str, Any]:
        return {"packet_id": self.packet_id, "sha256": self.sha256, "total": self.total,
                "count": self.count, "index": self.index, "offset": self.offset}

    def encode(self) -> bytes:
        meta = canonical_json(self.meta())
        return _CHUNK_FIXED.pack(CHUNK_MAGIC, CHUNK_LAYOUT, len(meta)) + meta + self.data

    @property
    def whole(self) -> bool:
        return self.count == 1


def chunk_count(total: int, chunk_size: int) -> int:
    return max(1, -(-total // chunk_size))


def split_packet(packet_id: str, data: bytes, *, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 start: int = 0, sha256: str | None = None) -> Iterator[Chunk]:
    """The chunks of a packet from index ``start`` on (a resumed upload skips the rest)."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ProtocolError(f"chunk size {chunk_size} is out of range 1..{MAX_CHUNK_SIZE}")
    if not data:
        raise ProtocolError("an empty packet cannot be sent")
    digest = sha256 or hashlib.sha256(data).hexdigest()
    count = chunk_count(len(data), chunk_size)
    if count > MAX_CHUNKS:
        raise ProtocolError(f"packet {packet_id} needs {count} chunks; raise the chunk size")
    view = memoryview(data)
    for index in range(start, count):
        offset = index * chunk_size
        yield Chunk(packet_id, digest, len(data), count, index, offset,
                    bytes(view[offset : offset + chunk_size]))


def decode_chunk(payload: bytes, *, max_packet: int = MAX_PACKET_SIZE) -> Chunk:
    """Parse and sanity-check a chunk frame; one-line ProtocolError on anything odd."""
    if len(payload) > MAX_CHUNK_SIZE + MAX_CHUNK_META + _CHUNK_FIXED.size:
        raise ProtocolError(f"chunk frame of {len(payload)} bytes is too large",
                            reason="oversized")
    if len(payload) < _CHUNK_FIXED.size:
        raise ProtocolError("message is too short to be a chunk frame")
    magic, layout, meta_len = _CHUNK_FIXED.unpack_from(payload)
    if magic != CHUNK_MAGIC:
        raise ProtocolError("message is not a Rekam chunk frame (bad magic)")
    if layout != CHUNK_LAYOUT:
        raise ProtocolError(f"unknown chunk frame layout {layout}")
    if meta_len > MAX_CHUNK_META or _CHUNK_FIXED.size + meta_len > len(payload):
        raise ProtocolError("chunk metadata length is out of range")
    raw_meta = payload[_CHUNK_FIXED.size : _CHUNK_FIXED.size + meta_len]
    data = payload[_CHUNK_FIXED.size + meta_len :]
    try:
        meta = json.loads(raw_meta)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("chunk metadata is not JSON") from None
    if not isinstance(meta, dict) or set(meta) != {"packet_id", "sha256", "total", "count",
                                                   "index", "offset"}:
        raise ProtocolError("chunk metadata has missing or unknown fields")
    packet_id, sha, total, count, index, offset = (
        meta["packet_id"], meta["sha256"], meta["total"], meta["count"], meta["index"],
        meta["offset"])
    if not isinstance(packet_id, str) or not _PACKET_ID.fullmatch(packet_id):
        raise ProtocolError("chunk names no valid packet id")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ProtocolError(f"chunk of {packet_id}: sha256 is not 64 lower-case hex digits")
    if not all(type(v) is int for v in (total, count, index, offset)):
        raise ProtocolError(f"chunk of {packet_id}: sizes must be integers")
    if not 0 < total <= max_packet:
        raise ProtocolError(f"packet {packet_id} of {total} bytes exceeds the limit of "
                            f"{max_packet} bytes", reason="oversized")
    if not 1 <= count <= MAX_CHUNKS or not 0 <= index < count:
        raise ProtocolError(f"chunk of {packet_id}: index {index} of {count} is out of range")
    if not data or offset < 0 or offset + len(data) > total:
        raise ProtocolError(f"chunk {index} of {packet_id} lies outside the packet's "
                            f"{total} bytes")
    if count == 1 and (offset != 0 or len(data) != total):
        raise ProtocolError(f"single-chunk packet {packet_id} is not whole")
    return Chunk(packet_id, sha, total, count, index, offset, data)


def assemble(chunks: Iterable[tuple[int, int, bytes]], *, total: int, count: int,
             sha256: str) -> bytes:
    """Join (index, offset, data) pieces into the packet; checks order, coverage and hash."""
    parts = sorted(chunks)
    if [i for i, _, _ in parts] != list(range(count)):
        raise ProtocolError(f"have {len(parts)} of {count} chunks", reason="incomplete")
    position = 0
    for index, offset, data in parts:
        if offset != position:
            raise ProtocolError(f"chunk {index} starts at {offset}, expected {position}",
                                reason="bad_chunks")
        position += len(data)
    if position != total:
        raise ProtocolError(f"chunks add up to {position} bytes, not {total}",
                            reason="bad_chunks")
    whole = b"".join(d for _, _, d in parts)
    if hashlib.sha256(whole).hexdigest() != sha256:
        raise ProtocolError("reassembled packet does not match its sha256",
                            reason="hash_mismatch")
    return whole


__all__ = [
    "CHUNK_LAYOUT", "CHUNK_MAGIC", "DEFAULT_CHUNK_SIZE", "MAX_CHUNKS", "MAX_CHUNK_META",
    "MAX_CHUNK_SIZE", "MAX_PACKET_SIZE", "Chunk", "assemble", "chunk_count", "decode_chunk",
    "split_packet",
]
