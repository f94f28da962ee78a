"""Keeping the operator UI's memory flat through a day of recordings (glibc only).

Every recording passes a few MB of images through numpy, OpenCV and the JPEG 2000
encoder, mostly in Textual worker threads. glibc gives each thread its own heap arena
and keeps freed pages for reuse, so a long day leaves tens of MB of freed buffers
resident. Two arenas are plenty for a UI whose workers take turns, and after each
recording the free pages go back to the kernel. Elsewhere (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache
from typing import Any

_M_ARENA_MAX = -8  # from glibc's malloc.h
ARENAS = 2


@cache
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc has it; musl does not
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(arenas: int = ARENAS) -> None:
    """Cap glibc's heap arenas; call before the first worker thread starts."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arenas)


def release() -> None:
    """Hand the heap's free pages back to the kernel (after a recording is sealed or
    cancelled and its images are gone). The screens of the recording just finished are
    cycles of widgets that only a full collection frees, so that runs first."""
    _forget_dead_widgets()
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _forget_dead_widgets() -> None:
    """Textual caches ``StylesCache.get_inner_outer`` with ``functools.lru_cache`` on the
    method itself, so its key holds the widget's StylesCache — and every rendered line
    that cache keeps — alive after the widget is gone: up to 1024 of them, about 12,000
    lines (20 MB) after a morning of recordings (Textualize/textual#6665, open). Clearing
    it costs one recomputation of two styles per widget on the next frame."""
    try:  # a private module: a later Textual may move it, or fix the cache
        from textual._styles_cache import StylesCache
    except ImportError:
        return
    cached = getattr(StylesCache, "get_inner_outer", None)
    cache_clear = getattr(cached, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()
