"""Errors a user can cause: each carries a one-line message that names the file or device."""

from __future__ import annotations


class PiclassifyError(Exception):
    """Base of every error the command-line tools turn into a one-line message and exit code 2."""


class ManifestError(PiclassifyError):
    """A manifest is missing, malformed, or does not describe the model file beside it."""


class ImageError(PiclassifyError):
    """An image cannot be read or does not have the shape a step needs."""


class DatasetError(PiclassifyError):
    """Data or weights are missing, truncated, or not in the expected format or layout."""


def printable(text: object, limit: int = 200) -> str:
    """A name from outside (a file or folder name, a label) as it may appear in a one-line message: as it is when it is
    printable text of at most ``limit`` characters, else escaped (``ascii``) and cut to ``limit``: a newline, an
    escape sequence or a right-to-left override never reaches a terminal or a log."""
    text = str(text)
    if text.isprintable() and len(text) <= limit:
        return text
    shown = ascii(text)[1:-1]
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


class ModelImportError(PiclassifyError):
    """A model made elsewhere, its labels or its files cannot be imported as they are."""
