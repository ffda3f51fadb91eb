"""OpenCV ``VideoCapture``: USB cameras by index or /dev/videoN, and video files.

A video file's frame that cannot be decoded (a damaged file, a copy cut short) is skipped with one
line, like a corrupt image in a folder, and FFmpeg's own complaints stay out of the terminal and the
journal; after ``MAX_BAD_FRAMES`` in a row the rest of the file is taken as unreadable and the video
ends as it would at its end. A file OpenCV cannot open at all is a ``SourceError`` (a setting to fix),
not a lost camera to retry for ever.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

import numpy as np

from piclassify.device.core.sources.base import FrameSource
from piclassify.device.errors import CameraError, SourceError
from piclassify.shared.errors import ImageError
from piclassify.shared.native_stderr import native_stderr

_VIDEO_DEVICE = re.compile(r"^/dev/video(\d+)$")
MAX_BAD_FRAMES = 100


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
        self._cv2 = cv2
        index = camera_index(spec)
        self.is_camera = index is not None
        target: Union[int, str] = index if index is not None else spec
        if not self.is_camera and not Path(spec).is_file():
            raise SourceError(f"{spec}: no such video file, image or camera")
        self.name = f"opencv:/dev/video{index}" if self.is_camera else f"video:{spec}"
        self._capture = cv2.VideoCapture(target, cv2.CAP_V4L2) if self.is_camera else cv2.VideoCapture(target)
        if not self._capture.isOpened():
            self._capture.release()
            if not self.is_camera:
                raise SourceError(f"{spec}: not a video file OpenCV can read (nor an image)")
            raise CameraError(f"{self.name}: cannot open (is it connected, and is the user in group 'video'?)")
        self._bad_in_row = 0
        if self.is_camera:
            # One buffered frame: when the service reads every N seconds it gets now, not N seconds ago.
            self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if size:
                self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
                self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])

    def read(self) -> tuple[np.ndarray, str]:
        if self.is_camera:
            ok, bgr = self._capture.read()
            if not ok or bgr is None:
                raise CameraError(f"{self.name}: stopped delivering frames")
            return bgr, self.name
        with native_stderr(keep=lambda line: False):  # "[mjpeg @ 0x...] huffman table decode error", per frame
            ok, bgr = self._capture.read()
        if ok and bgr is not None:
            self._bad_in_row = 0
            return bgr, self.name
        position, total = (int(self._capture.get(prop)) for prop in (self._cv2.CAP_PROP_POS_FRAMES,
                                                                     self._cv2.CAP_PROP_FRAME_COUNT))
        if position >= total or self._bad_in_row >= MAX_BAD_FRAMES:
            raise StopIteration
        self._bad_in_row += 1
        raise ImageError(f"{self.name}: frame {position + 1} of {total} cannot be decoded")

    def close(self) -> None:
        self._capture.release()
