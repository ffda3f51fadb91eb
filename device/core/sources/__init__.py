"""Frame sources behind one interface: ``open_source(spec)`` -> an iterator of ``Frame``s in the camera's own layout.

``spec`` is ``auto`` (picamera2, then the first USB camera), ``picamera2``, ``usb:N``, ``N`` or
``/dev/videoN``, a video file, or images (files, folders, globs; several separated by commas).
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path

from piclassify.device.core.sources.base import FrameSource
from piclassify.device.core.sources.images import ImageFilesSource
from piclassify.device.core.sources.opencv import OpenCVSource, camera_index
from piclassify.device.core.sources.picamera import Picamera2Source, picamera_available
from piclassify.device.errors import CameraError
from piclassify.shared.files.imagefile import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

__all__ = ["FrameSource", "open_source", "is_image_spec"]


def is_image_spec(spec: str) -> bool:
    """True when every comma-separated part names image files, a folder or a glob of images."""
    parts = [part for part in spec.split(",") if part]
    return bool(parts) and all(_is_images(part) for part in parts)


def _is_images(part: str) -> bool:
    path = Path(part)
    if path.is_dir():
        return True
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    return any(ch in part for ch in "*?[") and bool(glob.glob(part))


def open_source(spec: str, size: tuple[int, int] = (640, 480), loop: bool = False,
                watch: bool = False) -> FrameSource:
    """Open what ``spec`` names; ``CameraError`` says which camera is missing and why. ``watch``: image folders go on
    with images added later (the service)."""
    if spec == "auto":
        return _open_auto(size)
    if spec == "picamera2":
        return Picamera2Source(size)
    if camera_index(spec) is not None:
        return OpenCVSource(spec, size)
    if is_image_spec(spec):
        return ImageFilesSource(spec.split(","), loop=loop, watch=watch)
    return OpenCVSource(spec, size)


def _open_auto(size: tuple[int, int]) -> FrameSource:
    if picamera_available():
        log.info("source auto: using picamera2")
        return Picamera2Source(size)
    for device in sorted(glob.glob("/dev/video*")):
        try:
            source = OpenCVSource(device, size)
        except CameraError:
            continue
        log.info("source auto: no Pi camera; using %s", device)
        return source
    raise CameraError("auto: no camera found (no picamera2 camera and no usable /dev/video*)")
