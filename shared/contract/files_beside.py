"""The files a manifest names beside it (the model's, a backbone's, a head's): plain names, found by sha256.

A manifest never names a path, so what comes from a model's folder cannot point a reader elsewhere, and a file
replaced by other bytes is refused in one line rather than run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from piclassify.shared.errors import ManifestError


def sha256_of(path: Path) -> str:
    """The file's sha256, as a manifest records it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def file_beside(folder: Path, name: str, what: str) -> Path:
    """``folder/name`` when ``name`` is a plain file name (a manifest never names a path); else ``ManifestError``."""
    if Path(name).name != name or name in (".", ".."):
        raise ManifestError(f"{what} file {name!r} must be a file name beside the manifest, not a path")
    return Path(folder) / name


def checked_file(folder: Path, name: str, sha256: str, what: str) -> Path:
    """``folder/name``, a plain file name beside the manifest whose content has ``sha256``; else ``ManifestError``."""
    path = file_beside(folder, name, what)
    if not path.is_file():
        raise ManifestError(f"{path}: the {what} file is missing (it lives beside the manifest)")
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if actual != sha256:
        raise ManifestError(f"{path}: sha256 does not match the manifest's {what} (manifest {sha256[:12]}…, "
                            f"file {actual[:12]}…)")
    return path
