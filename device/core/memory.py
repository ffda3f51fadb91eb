"""Memory a burst borrows goes back to the system: large blocks are mapped for themselves and unmapped when freed.

glibc serves a large allocation (a picture's bytes, its decoded pixels) from its own mapping, then, once
one is freed, raises that threshold up to 32 MB and serves the next ones from each thread's heap, which
it keeps. A burst of uploads on many request threads then left hundreds of MB behind for good. A fixed
threshold keeps every block of ``LARGE`` bytes or more on its own mapping, returned as soon as it is freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

LARGE = 1 << 20  # bytes: a camera frame (640x480x3, 0.9 MB) stays below it, a picture's body goes above
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_large_blocks() -> bool:
    """Set the threshold (glibc only: elsewhere nothing changes); whether it was set."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, LARGE))
    except (OSError, AttributeError):  # not glibc (musl, macOS): its own allocator's ways stand
        return False
