"""Device-side errors a user can hit; the CLI prints each as one line and exits with code 2."""

from piclassify.shared.errors import PiclassifyError


class CameraError(PiclassifyError):
    """A camera is missing, busy, or stopped delivering frames."""


class SourceError(PiclassifyError):
    """A frame source specification names nothing that can be read."""


class UnknownModelError(PiclassifyError):
    """A model name is not bundled and no such model file exists."""


class ModelFolderError(PiclassifyError):
    """A folder of models (the user's taught models) cannot be listed or searched."""


class OutputError(PiclassifyError):
    """A file the device writes (a taught model) cannot be written where it was asked to go."""


class ModelNameError(PiclassifyError):
    """A name given to a new model could not be a plain file name."""


class TeachBusy(PiclassifyError):
    """A fit is already running (the teach panel fits one model at a time)."""


class TooBusy(PiclassifyError):
    """Asked for more often than the Pi serves it (switching models for uploads): try again later."""


class RegionError(PiclassifyError):
    """A watched region names a model or a state that does not fit (a table model, a state not among its labels)."""
