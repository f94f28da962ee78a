"""A packet's plaintext ZIP is read without trusting it: single safe names only, no links,
directories or devices, no compressed or encrypted entries, sizes capped as declared and as
actually read (zip bombs), duplicates refused."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from edge.packet import ContainerLimits, read_container

MANIFEST = b'{"format": "rekam-manifest/1"}'


def _zip(*entries: tuple[str | zipfile.ZipInfo, bytes], compression: int = zipfile.ZIP_STORED
         ) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def test_a_clean_container_reads_whole():
    got = read_container(_zip(("manifest.json", MANIFEST), ("face.jpeg", b"\xff\xd8\xffx")))
    assert got.problems == () and got.manifest == {"format": "rekam-manifest/1"}
    assert got.files == {"face.jpeg": b"\xff\xd8\xffx"}


@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "/etc/passwd", "a/b.jpeg",
                                  "..", ".hidden", "a\\b", "C:x",
                                  "x" * 300, "naïve.jpeg"])
def test_unsafe_names_are_never_read(name):
    got = read_container(_zip(("manifest.json", MANIFEST), (name, b"data")))
    assert got.files == {}
    assert len(got.problems) == 1 and "not a single safe file name" in got.problems[0]


@pytest.mark.parametrize("mode", [stat.S_IFLNK | 0o777, stat.S_IFCHR | 0o600,
                                  stat.S_IFIFO | 0o600, stat.S_IFDIR | 0o755])
def test_links_devices_and_directories_are_refused(mode):
    got = read_container(_zip(("manifest.json", MANIFEST), (_info("face.jpeg", mode),
                                                            b"/etc/shadow")))
    assert got.files == {} and "not a regular file" in got.problems[0]


def test_a_deflate_bomb_is_refused_by_its_declared_size_and_never_inflated():
    bomb = _zip(("manifest.json", MANIFEST), ("face.jpeg", b"\0" * (20 * 1024 * 1024)),
                compression=zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100_000
    got = read_container(bomb)
    assert got.files == {} and got.manifest is None
    assert any("compressed" in p for p in got.problems)


def test_sizes_are_capped_per_entry_in_total_and_in_count():
    limits = ContainerLimits(max_entries=4, max_entry=1000, max_total=2500, max_manifest=100)
    got = read_container(_zip(("manifest.json", MANIFEST), ("a.jp2", b"x" * 1001)), limits)
    assert "declares 1001 bytes, over the cap of 1000" in got.problems[0]
    got = read_container(_zip(("manifest.json", MANIFEST), *((f"f{i}.jp2", b"x" * 900)
                                                             for i in range(3))), limits)
    assert got.problems == ("the entries declare more than 2500 bytes in all",)
    assert len(got.files) == 2
    got = read_container(_zip(*((f"f{i}.jp2", b"x") for i in range(5))), limits)
    assert "holds 5 entries, over the cap of 4" in got.problems[0]
    got = read_container(_zip(("manifest.json", b"{" + b" " * 200 + b"}")), limits)
    assert "over the cap of 100" in got.problems[0]


def test_a_declared_size_that_lies_is_caught():
    data = bytearray(_zip(("manifest.json", MANIFEST), ("face.jpeg", b"x" * 100)))
    # shrink the declared size in the central directory (and the local header) to 10
    for sig in (b"PK\x01\x02", b"PK\x03\x04"):
        at = data.rfind(sig)
        offset = 24 if sig == b"PK\x01\x02" else 22
        data[at + offset: at + offset + 4] = (10).to_bytes(4, "little")
    got = read_container(bytes(data))
    assert got.files.get("face.jpeg") is None
    assert got.problems


def test_duplicate_names_and_garbage_are_problems_not_crashes():
    with pytest.warns(UserWarning):
        dup = _zip(("manifest.json", MANIFEST), ("face.jpeg", b"1"), ("face.jpeg", b"2"))
    assert "appears twice" in read_container(dup).problems[0]
    for junk in (b"", b"PK", b"not a zip", b"PK\x05\x06" + b"\xff" * 18):
        got = read_container(junk)
        assert got.manifest is None and got.problems
