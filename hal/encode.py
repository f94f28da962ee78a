"""Encoders for what a capture stores, and decoders for HQ and tests.

=========== ============================================ ==================================
modality    format                                       why
=========== ============================================ ==================================
face        JPEG (quality 90) of the ID-photo crop       ISO/IEC 19794-5 allows JPEG
finger      JPEG 2000, 8-bit gray, 500 ppi, ~12 KB       MOSIP registration format; PNG on
                                                         request (lossless, ~3x larger)
iris        JPEG 2000, 8-bit gray, ~12 KB                MOSIP registration format
signature   PNG, 1 bit per pixel                         ink or no ink; ~2 KB
=========== ============================================ ==================================

JPEG 2000 is encoded by Pillow's OpenJPEG with the 9/7 wavelet (about 20 % faster than
OpenCV's 5/3 at the same size; ~4-5 ms for a fingerprint here); the rate is set from a
target size so every fingerprint costs about the same bytes. Pillow does not write a
resolution box, so :func:`with_resolution` adds the JP2 capture-resolution box (``resc``)
that records 500 ppi; Pillow reads it back as ``info["dpi"]``.
"""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from hal.imaging import Box, as_gray
from hal.types import ImageFormat

FINGER_PPI = 500
FINGER_TARGET_BYTES = 12_000
IRIS_TARGET_BYTES = 12_000
FACE_JPEG_QUALITY = 90
SIGNATURE_INK_LEVEL = 128  # darker than this is ink

_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_SOC = b"\xff\x4f\xff\x51"


# --- encoders ---------------------------------------------------------------------------


def encode_face(bgr: NDArray[np.uint8], crop: Box | None = None, *,
                quality: int = FACE_JPEG_QUALITY) -> bytes:
    """The face photo as JPEG, cut to ``crop`` (x, y, w, h) when given."""
    img = np.asarray(bgr)
    if crop is not None:
        x, y, w, h = crop
        img = img[max(0, y):y + h, max(0, x):x + w]
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def encode_jp2(gray: NDArray[np.uint8], *, target_bytes: int, ppi: float | None = None) -> bytes:
    """Lossy JPEG 2000 (JP2 file format) of an 8-bit gray image, about ``target_bytes``."""
    img = as_gray(gray)
    ratio = max(1.0, img.size / max(1, target_bytes))
    out = io.BytesIO()
    # irreversible (9/7 wavelet): ~20 % faster than 5/3 at the same size, and lossy anyway
    Image.fromarray(img).save(out, "JPEG2000", quality_mode="rates", quality_layers=[ratio],
                              irreversible=True)
    data = out.getvalue()
    return with_resolution(data, ppi) if ppi else data


def encode_fingerprint(gray: NDArray[np.uint8], *, fmt: ImageFormat = ImageFormat.JP2,
                       target_bytes: int = FINGER_TARGET_BYTES, ppi: int = FINGER_PPI) -> bytes:
    """A 500 ppi fingerprint as JPEG 2000 (default) or lossless PNG (with its pHYs dpi)."""
    if fmt is ImageFormat.JP2:
        return encode_jp2(gray, target_bytes=target_bytes, ppi=ppi)
    if fmt is ImageFormat.PNG:
        out = io.BytesIO()
        Image.fromarray(as_gray(gray)).save(out, "PNG", dpi=(ppi, ppi), compress_level=6)
        return out.getvalue()
    raise ValueError(f"fingerprints are stored as JP2 or PNG, not {fmt}")


def encode_iris(gray: NDArray[np.uint8], *, target_bytes: int = IRIS_TARGET_BYTES) -> bytes:
    return encode_jp2(gray, target_bytes=target_bytes)


def encode_signature(gray: NDArray[np.uint8]) -> bytes:
    """The signature as a 1-bit PNG: white pad, black ink."""
    paper = as_gray(gray) >= SIGNATURE_INK_LEVEL
    out = io.BytesIO()
    Image.fromarray(paper).save(out, "PNG", optimize=False)
    return out.getvalue()


def with_resolution(jp2: bytes, ppi: float) -> bytes:
    """``jp2`` with a capture-resolution box (``res `` > ``resc``) in its header box.

    The box stores grid points per metre as N/D * 10^E; 500 ppi is 19685.04 per metre,
    written exactly as 50000/254 * 10^2.
    """
    if not jp2.startswith(_JP2_SIGNATURE):
        raise ValueError("not a JP2 file")
    num, den, exp = _resolution_fraction(ppi)
    resc = struct.pack(">HHHHbb", num, den, num, den, exp, exp)
    res = _box(b"res ", _box(b"resc", resc))
    pos = 0
    while pos + 8 <= len(jp2):
        length, kind = struct.unpack(">I4s", jp2[pos:pos + 8])
        if length < 8:  # 0 (to the end) or 1 (64-bit length): never the header box
            break
        if kind == b"jp2h":
            body = jp2[pos + 8:pos + length]
            return jp2[:pos] + _box(b"jp2h", body + res) + jp2[pos + length:]
        pos += length
    raise ValueError("JP2 file without a header box")


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _resolution_fraction(ppi: float) -> tuple[int, int, int]:
    per_metre = ppi / 0.0254
    if float(ppi).is_integer() and ppi * 100 < 65536:
        return int(ppi * 100), 254, 2  # exact for whole ppi values up to 655
    exp = 0
    while per_metre >= 65535:
        per_metre /= 10
        exp += 1
    return round(per_metre), 1, exp


# --- decoders ---------------------------------------------------------------------------


def sniff_format(data: bytes) -> ImageFormat:
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if data.startswith(_JP2_SIGNATURE) or data.startswith(_J2K_SOC):
        return ImageFormat.JP2
    raise ValueError("not a JPEG, PNG or JPEG 2000 image")


def decode_image(data: bytes) -> NDArray[np.uint8]:
    """Pixels of an encoded capture: 2-D gray for gray or 1-bit images, BGR for colour."""
    sniff_format(data)
    with Image.open(io.BytesIO(data)) as im:
        if im.mode in ("1", "L", "LA", "I", "I;16"):
            return np.asarray(im.convert("L"))
        rgb = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def decode_gray(data: bytes) -> NDArray[np.uint8]:
    return as_gray(decode_image(data))


def resolution_ppi(data: bytes) -> float | None:
    """The resolution an image records (JP2 ``resc``/``resd``, PNG pHYs, JPEG JFIF)."""
    with Image.open(io.BytesIO(data)) as im:
        dpi = im.info.get("dpi")
    return float(dpi[0]) if dpi else None
