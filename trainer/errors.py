"""Trainer-side errors a user can hit; ``piclassify-train`` prints each as one line and exits with code 2."""

from piclassify.shared.errors import PiclassifyError


class DatasetError(PiclassifyError):
    """Data or weights are missing, truncated, or not in the expected format or layout."""


class ExportError(PiclassifyError):
    """An exported model does not compute what the trained Keras model computes."""
