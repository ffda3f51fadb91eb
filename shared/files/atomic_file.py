"""Writing a file so that it is either all there or not there at all, even if the power goes mid-write.

Models, manifests and the examples a Pi learns from are written to a temporary name in the same
folder, flushed to disk, and renamed into place: a reader sees the old file or the new one, never a
torn one, and a failed write leaves no temporary file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` as ``path``, through a temporary file in the same folder and a rename (no torn file, ever)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
