"""Trainer-side errors a user can hit; ``piclassify-train`` prints each as one line and exits with code 2."""

from piclassify.shared.errors import PiclassifyError


class ExportError(PiclassifyError):
    """An exported model does not compute what the trained Keras model computes."""
