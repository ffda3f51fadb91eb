"""Device-side errors a user can hit; the CLI prints each as one line and exits with code 2."""

from piclassify.shared.errors import PiclassifyError


class CameraError(PiclassifyError):
    """A camera is missing, busy, or stopped delivering frames."""


class SourceError(PiclassifyError):
    """A frame source specification names nothing that can be read."""


class UnknownModelError(PiclassifyError):
    """A model name is not bundled and no such model file exists."""
