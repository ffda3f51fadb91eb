"""Errors a user can cause: each carries a one-line message that names the file or device."""


class PiclassifyError(Exception):
    """Base of every error the command-line tools turn into a one-line message and exit code 2."""


class ManifestError(PiclassifyError):
    """A manifest is missing, malformed, or does not describe the model file beside it."""


class ImageError(PiclassifyError):
    """An image cannot be read or does not have the shape a step needs."""


class DatasetError(PiclassifyError):
    """Data or weights are missing, truncated, or not in the expected format or layout."""


class ModelImportError(PiclassifyError):
    """A model made elsewhere, its labels or its files cannot be imported as they are."""
