"""OpenCV ``VideoCapture``: USB cameras by index or /dev/videoN, and video files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

import numpy as np

from piclassify.device.errors import CameraError, SourceError
from piclassify.device.sources.base import FrameSource

_VIDEO_DEVICE = re.compile(r"^/dev/video(\d+)$")


def camera_index(spec: str) -> Optional[int]:
    """``usb:0``, ``0`` or ``/dev/video0`` -> 0; anything else (a file) -> None."""
    for pattern in (r"^usb:(\d+)$", r"^(\d+)$", _VIDEO_DEVICE.pattern):
        match = re.match(pattern, spec)
        if match:
            return int(match.group(1))
    return None


class OpenCVSource(FrameSource):
    """Frames from a USB camera or a video file, in OpenCV's BGR layout (converted only as a model needs)."""

    layout = "BGR"

    def __init__(self, spec: str, size: Optional[tuple[int, int]] = (640, 480)) -> None:
        import cv2

        super().__init__()
        index = camera_index(spec)
        self.is_camera = index is not None
        target: Union[int, str] = index if index is not None else spec
        if not self.is_camera and not Path(spec).is_file():
            raise SourceError(f"{spec}: no such video file, image or camera")
        self.name = f"opencv:/dev/video{index}" if self.is_camera else f"video:{spec}"
        self._capture = cv2.VideoCapture(target, cv2.CAP_V4L2) if self.is_camera else cv2.VideoCapture(target)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"{self.name}: cannot open (is it connected, and is the user in group 'video'?)")
        if self.is_camera:
            # One buffered frame: when the service reads every N seconds it gets now, not N seconds ago.
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if size:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])

    def read(self) -> tuple[np.ndarray, str]:
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            if self.is_camera:
                raise CameraError(f"{self.name}: stopped delivering frames")
            raise StopIteration
        return bgr, self.name

    def close(self) -> None:
        self._capture.release()
