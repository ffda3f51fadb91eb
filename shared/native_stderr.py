"""Keeping what native libraries print to file descriptor 2 off the terminal and the journal.

LiteRT's C++ core writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on every model
load; neither ai-edge-litert 2.3 nor tflite-runtime offers a switch (``TF_CPP_MIN_LOG_LEVEL``
governs TensorFlow's logger, not TFLite's minimal one, and the wheel exports no severity setter).
libtiff, inside Pillow, prints every complaint about a corrupt TIFF ("LZWDecode: Not enough data
at scanline 0") although Pillow then raises an error saying the same. So while such code runs,
fd 2 points at an in-memory file, and afterwards the lines ``keep`` accepts go back to stderr.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def not_info(line: bytes) -> bool:
    """Every line but a runtime's ``INFO:`` chatter: a warning, or another thread's log line, still gets out."""
    return not line.startswith(b"INFO: ")


@contextmanager
def native_stderr(keep: Callable[[bytes], bool]) -> Iterator[None]:
    """Run the block with fd 2 captured in memory; then write back to stderr the captured lines ``keep`` accepts."""
    if sys.stderr is None:  # started with fd 2 closed: there is no terminal to keep clean
        yield
        return
    try:
        capture = os.memfd_create("piclassify-stderr", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux: the chatter stays, nothing else changes
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(capture, 2)
    try:
        yield
    finally:
        sys.stderr.flush()  # Python's own buffered writes made meanwhile are in the capture too
        os.dup2(saved, 2)
        os.close(saved)
        with os.fdopen(capture, "rb") as captured:
            captured.seek(0)
            kept = [line if line.endswith(b"\n") else line + b"\n" for line in captured if keep(line)]  # one a line
        if kept:
            os.write(2, b"".join(kept))
