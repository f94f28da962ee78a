"""The vault: opening sealed packets with HQ's sealing key, after checking who signed them,
and writing what they hold to disk safely."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Engine

from edge.errors import InvalidInput
from edge.keys import write_private
from edge.packet import SAFE_NAME, OpenedPacket, open_packet, read_header
from hq.devices import get_device
from hq.home import HqKeys


def open_sealed(engine: Engine, keys: HqKeys, data: bytes) -> OpenedPacket:
    header = read_header(data)
    device = get_device(engine, header.device_id)
    return open_packet(data, hq_key=keys.sealing, device_key=device.signing_public)


def extract_files(files: Mapping[str, bytes], out: Path) -> list[Path]:
    """Write each file as a single safe name directly inside ``out`` (0700), 0600 each.

    ``files`` should come from :func:`hq.inspect.inspect_packet` (only what the manifest
    lists, names and sizes already checked); the names are checked again here, so nothing
    can land outside ``out``: no separators, no ``..``, no absolute path. Each file is
    written to a new temporary file and renamed over the name, so a link planted at that
    name is replaced, never followed."""
    for name in files:
        if not SAFE_NAME.fullmatch(name) or ".." in name or Path(name).name != name:
            raise InvalidInput(f"refusing to write {name[:60]!r}: not a single safe file name")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    root = out.resolve()
    written = []
    for name, data in files.items():
        path = root / name
        if path.parent != root:
            raise InvalidInput(f"refusing to write {name[:60]!r} outside {out}")
        write_private(path, data)
        written.append(path)
    return written
