"""A synthetic camera frame for the e-KTP photo: a drawn frontal face on the SOP's backdrop.

The face is simple shapes, but with the light and dark regions a real face has where the
Haar cascade looks for them (dark eye sockets and brows over lighter cheeks, a light nose
bridge between the eyes), so OpenCV's stock detector finds it like a real one. Eyes are
~0.46 face half-widths from the midline, which puts the inter-eye distance at 97-110 px
in a 640x480 frame: above the 90 px the quality gate asks for.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

WIDTH, HEIGHT = 640, 480
RED_BGR = (38, 28, 200)  # the SOP's backdrops: red for odd birth years, blue for even
BLUE_BGR = (190, 100, 30)
GREY_BGR = (170, 170, 170)


def backdrop_for(birth_year: int | None) -> tuple[int, int, int]:
    if birth_year is None:
        return GREY_BGR
    return RED_BGR if birth_year % 2 else BLUE_BGR


def _tone(rgb: NDArray[np.float64], k: float = 1.0) -> tuple[int, int, int]:
    return tuple(int(min(255.0, v * k)) for v in rgb)  # type: ignore[return-value]


def draw_face(
    img: NDArray[np.uint8], rng: np.random.Generator, cx: int, cy: int, half_width: int
) -> None:
    """Draw one face centred at (cx, cy) into ``img`` (BGR, in place)."""
    fw, fh = half_width, int(half_width * 1.32)
    t = rng.uniform(0.0, 1.0)  # skin from deep brown to light
    skin = np.array([60 + 90 * t, 85 + 95 * t, 125 + 105 * t]) * rng.uniform(0.95, 1.05, 3)
    hair = tuple(int(v) for v in rng.integers(10, 45, 3))
    cloth = tuple(int(v) for v in rng.integers(20, 160, 3))
    aa = cv2.LINE_AA
    h = img.shape[0]
    cv2.ellipse(img, (cx, cy + int(fh * 2.6)), (int(fw * 2.6), int(fh * 1.3)), 0, 180, 360,
                cloth, -1, aa)
    cv2.rectangle(img, (cx - fw // 2, cy + fh // 2), (cx + fw // 2, min(h, cy + int(fh * 1.4))),
                  _tone(skin, 0.8), -1)
    cv2.ellipse(img, (cx, cy - fh // 8), (int(fw * 1.1), int(fh * 1.02)), 0, 0, 360, hair, -1, aa)
    for s in (-1, 1):
        cv2.ellipse(img, (cx + s * fw, cy), (fw // 6, fh // 5), 0, 0, 360, _tone(skin, 0.85), -1,
                    aa)
    cv2.ellipse(img, (cx, cy), (fw, fh), 0, 0, 360, _tone(skin), -1, aa)
    cv2.ellipse(img, (cx, cy - int(fh * 0.78)), (int(fw * 1.02), int(fh * 0.38)), 0, 180, 360,
                hair, -1, aa)
    cv2.ellipse(img, (cx, cy - int(fh * 0.78)), (fw, int(fh * 0.22)), 0, 0, 180, hair, -1, aa)

    # Shading over the face only: eye sockets, cheeks, nose bridge, lip shadow and the
    # sides turning away from the light. Drawn at quarter size (it is soft) and scaled up.
    x0, y0 = max(0, cx - fw), max(0, cy - fh)
    x1, y1 = min(img.shape[1], cx + fw), min(h, cy + fh)
    q = 4
    mod = np.zeros(((y1 - y0) // q + 1, (x1 - x0) // q + 1), np.float32)
    ox, oy = (cx - x0) / q, (cy - y0) / q
    eye_dx, eye_y = int(fw * 0.46), -int(fh * 0.1)

    def blob(x: float, y: float, ax: float, ay: float, amount: float) -> None:
        cv2.ellipse(mod, (int(ox + x / q), int(oy + y / q)), (int(ax / q), int(ay / q)), 0, 0,
                    360, amount, -1, aa)

    for s in (-1, 1):
        blob(s * eye_dx, eye_y - 4, fw * 0.3, fh * 0.14, -0.35)
        blob(s * fw * 0.45, fh * 0.25, fw * 0.25, fh * 0.18, 0.12)
    blob(0, eye_y + fh * 0.08, fw * 0.1, fh * 0.2, 0.2)
    blob(0, fh * 0.32, fw * 0.25, fh * 0.05, -0.25)
    mod = cv2.GaussianBlur(mod, (0, 0), fw * 0.08 / q)
    yy, xx = np.ogrid[0:mod.shape[0], 0:mod.shape[1]]
    inside = (((xx - ox) * q / fw) ** 2 + ((yy - oy) * q / fh) ** 2) < 1
    mod -= (0.3 * np.clip(np.abs(xx - ox) * q / fw, 0, 1) ** 3 * inside).astype(np.float32)
    gain = cv2.resize(1 + mod, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    region = img[y0:y1, x0:x1]
    img[y0:y1, x0:x1] = cv2.multiply(region, cv2.merge([gain, gain, gain]), dtype=cv2.CV_8U)

    iris = tuple(int(v) for v in rng.integers(20, 60, 3))
    for s in (-1, 1):
        ex, ey = cx + s * eye_dx, cy + eye_y
        cv2.ellipse(img, (ex, ey - int(fh * 0.14)), (int(fw * 0.24), int(fh * 0.05)), 0, 200, 340,
                    hair, 6, aa)
        cv2.ellipse(img, (ex, ey), (int(fw * 0.19), int(fh * 0.06)), 0, 0, 360, (215, 220, 225),
                    -1, aa)
        cv2.circle(img, (ex, ey), int(fh * 0.055), iris, -1, aa)
        cv2.circle(img, (ex, ey), int(fh * 0.022), (5, 5, 5), -1, aa)
        cv2.ellipse(img, (ex, ey), (int(fw * 0.2), int(fh * 0.065)), 0, 180, 360,
                    _tone(skin, 0.35), 3, aa)
    nose_y = cy + int(fh * 0.22)
    for s in (-1, 1):
        cv2.circle(img, (cx + s * int(fw * 0.12), nose_y), 5, _tone(skin, 0.45), -1, aa)
    my = cy + int(fh * 0.45)
    cv2.ellipse(img, (cx, my), (int(fw * 0.33), int(fh * 0.055)), 0, 0, 180, (70, 70, 160), -1, aa)
    cv2.line(img, (cx - int(fw * 0.33), my), (cx + int(fw * 0.33), my), (40, 40, 110), 2, aa)


@lru_cache(maxsize=8)
def _backdrop(colour: tuple[int, int, int]) -> NDArray[np.uint8]:
    """The empty backdrop with the soft falloff a studio light gives (drawn once)."""
    falloff = np.linspace(1.04, 0.94, HEIGHT, dtype=np.float32)[:, None, None]
    img = np.clip(np.array(colour, np.float32) * falloff, 0, 255).astype(np.uint8)
    img = np.ascontiguousarray(np.broadcast_to(img, (HEIGHT, WIDTH, 3)))
    img.setflags(write=False)
    return img


def face_frame(
    rng: np.random.Generator,
    *,
    backdrop: tuple[int, int, int] = RED_BGR,
    faces: int = 1,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
) -> NDArray[np.uint8]:
    """A 640x480 BGR frame. ``faces`` 0 gives an empty backdrop, 2 two people; ``scale``
    < 1 a face too far from the camera; ``offset`` moves the face by a share of the frame."""
    img = _backdrop(backdrop).copy()
    half_width = int(rng.integers(105, 121) * scale)
    if faces == 1:
        cx = WIDTH // 2 + int(rng.integers(-12, 13) + offset[0] * WIDTH)
        cy = int(HEIGHT * 0.45) + int(rng.integers(-8, 9) + offset[1] * HEIGHT)
        draw_face(img, rng, cx, cy, half_width)
    elif faces >= 2:
        small = int(half_width * 0.6)
        for i in range(faces):
            cx = int(WIDTH * (i + 1) / (faces + 1))
            draw_face(img, rng, cx, int(HEIGHT * 0.45), small)
    return img
