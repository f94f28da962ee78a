"""Biometric data interchange records for the national system: ISO/IEC 19794-4:2011 finger
image records and ISO/IEC 19794-6:2011 iris image records, each holding one
representation (the kit's JPEG 2000 image, unchanged) with its capture time and quality.

Written field by field as the standard's tables lay them out (big-endian); MOSIP's
``bio-utils`` reads the same layout. Device and quality-algorithm identifiers are 0 (not
registered): the quality score is Rekam's own measure on 0-100 (``hal/quality``). No
library on PyPI writes these records today (``iso19794`` writes 19794-4/-5 by re-encoding
the image, and no iris), hence this module.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

FINGER_POSITIONS = {  # ISO/IEC 19794-4 Table 5 (finger position codes)
    "right_thumb": 1, "right_index": 2, "right_middle": 3, "right_ring": 4,
    "right_little": 5, "left_thumb": 6, "left_index": 7, "left_middle": 8,
    "left_ring": 9, "left_little": 10,
}
EYES = {"right": 1, "left": 2}  # ISO/IEC 19794-6 eye label

_FINGER_COMPRESSION = {"jp2": 4, "png": 6, "jpeg": 3}  # JPEG 2000 (lossy), PNG, JPEG
_IRIS_FORMAT = {"jp2": 0x0A, "png": 0x0E}  # monochrome JPEG 2000, monochrome PNG
_QUALITY_VENDOR = 0  # quality algorithm vendor and algorithm: not registered
_QUALITY_ALGORITHM = 0


def _capture_time(when: datetime) -> bytes:
    """9 bytes: year, month, day, hour, minute, second, millisecond, in UTC."""
    t = when.astimezone(UTC)
    return struct.pack(">HBBBBBH", t.year, t.month, t.day, t.hour, t.minute, t.second,
                       t.microsecond // 1000)


def _quality_block(score: int) -> bytes:
    return struct.pack(">BHH", max(0, min(100, score)), _QUALITY_VENDOR, _QUALITY_ALGORITHM)


def finger_record(image: bytes, *, position: str, width: int, height: int, quality: int,
                  captured_at: datetime, image_format: str = "jp2", ppi: int = 500) -> bytes:
    """An ISO/IEC 19794-4:2011 finger image record of one plain live-scan impression."""
    if position not in FINGER_POSITIONS:
        raise ValueError(f"{position!r} is not a finger position")
    header = b"".join((
        _capture_time(captured_at),
        struct.pack(">BHH", 0, 0, 0),  # capture device technology, vendor, type: unknown
        struct.pack(">B", 1), _quality_block(quality),
        # finger position, representation number, scale units (1: pixels per inch),
        # capture and image sampling rates (h, v), bit depth, compression, impression
        # type (0: live-scan plain), line lengths (h, v)
        struct.pack(">BBBHHHHBBBHH", FINGER_POSITIONS[position], 1, 1, ppi, ppi, ppi, ppi, 8,
                    _FINGER_COMPRESSION[image_format], 0, width, height),
    ))
    data = struct.pack(">I", len(image)) + image
    representation = struct.pack(">I", 4 + len(header) + len(data)) + header + data
    general = b"FIR\x00" + b"020\x00" + struct.pack(">IHBB", 16 + len(representation), 1, 0, 1)
    return general + representation


def iris_record(image: bytes, *, eye: str, width: int, height: int, quality: int,
                captured_at: datetime, image_format: str = "jp2") -> bytes:
    """An ISO/IEC 19794-6:2011 iris image record of one eye (an uncropped image, its
    centre and diameter not measured)."""
    if eye not in EYES:
        raise ValueError(f"{eye!r} is not an eye")
    vga = (width, height) == (640, 480)
    properties = 0 | (0 << 2) | (2 << 6)  # orientation undefined, lossy compression
    info = struct.pack(
        ">BBBBHHBHHHHHHHHH", EYES[eye], 2 if vga else 1, _IRIS_FORMAT[image_format],
        properties, width, height, 8, 0,  # bit depth 8, range unassigned
        0xFFFF, 0xFFFF,  # roll angle of the eye and its uncertainty: undefined
        0, 0, 0, 0, 0, 0)  # iris centre and diameter: undefined
    header = b"".join((
        _capture_time(captured_at),
        struct.pack(">BHH", 0, 0, 0),  # capture device technology, vendor, type: unknown
        struct.pack(">B", 1), _quality_block(quality),
        struct.pack(">H", 1),  # representation number
        info,
    ))
    data = struct.pack(">I", len(image)) + image
    representation = struct.pack(">I", 4 + len(header) + len(data)) + header + data
    general = b"IIR\x00" + b"020\x00" + struct.pack(">IHBB", 16 + len(representation), 1, 0, 1)
    return general + representation


def read_image(record: bytes) -> bytes:
    """The image of the one representation in a record this module writes."""
    kind, version = record[:4], record[4:8]
    if kind not in (b"FIR\x00", b"IIR\x00") or version != b"020\x00":
        raise ValueError("not an ISO/IEC 19794-4 or -6:2011 record")
    total, count, certified, _ = struct.unpack_from(">IHBB", record, 8)
    if total != len(record) or count != 1 or certified:
        raise ValueError("not a single-representation record of the expected length")
    pos = 16 + 4 + 9 + 5  # general header, representation length, time, device
    (blocks,) = struct.unpack_from(">B", record, pos)
    pos += 1 + 5 * blocks
    pos += 18 if kind == b"FIR\x00" else 2 + 27  # the rest of the representation header
    (length,) = struct.unpack_from(">I", record, pos)
    image = record[pos + 4:pos + 4 + length]
    if len(image) != length or pos + 4 + length != len(record):
        raise ValueError("the image length does not match the record")
    return image
