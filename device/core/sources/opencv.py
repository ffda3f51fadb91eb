"""OpenCV ``VideoCapture``: USB cameras by index or /dev/videoN, and video files.

Frames of a video file that cannot be decoded (a damaged file, a copy cut short) are skipped with one
line for each run of them, with its count, like a corrupt image in a folder, and FFmpeg's own
complaints stay out of the terminal and the journal. When reading gets no further (a file cut short:
OpenCV stays at the same frame, ``STUCK_READS`` times), or after ``MAX_BAD_FRAMES`` in a row, the rest
of the file is taken as unreadable, said once, and the video ends as it would at its end. A file
OpenCV cannot open at all is a ``SourceError`` (a setting to fix), not a lost camera to retry for ever.
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
STUCK_READS = 10  # failed reads at the same frame that mean the file goes no further (a damaged one may fail twice)


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
        self._pending: Optional[np.ndarray] = None  # a frame read after a run of bad ones, handed out next
        self._ended = False
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
        return self._video_frame(), self.name

    def _video_frame(self) -> np.ndarray:
        """A video file's next frame that decodes; one ``ImageError`` line for a run of frames that do not."""
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        if self._ended:
            raise StopIteration
        bgr = self._read_file()
        if bgr is not None:
            return bgr
        first, total = self._position()
        if first >= total:
            raise StopIteration
        bad, position, stuck = 0, first, 0
        while bgr is None and bad < MAX_BAD_FRAMES:  # the run of frames that cannot be decoded, to its end
            bad += 1
            bgr = self._read_file()
            now = self._position()[0]
            stuck = stuck + 1 if now == position else 0
            if bgr is None and (stuck >= STUCK_READS or now >= total):  # no further: the rest cannot be read
                self._ended = True
                raise ImageError(f"{self.name}: frames {first + 1}-{total} of {total} cannot be decoded (the "
                                 "file ends early or is damaged from there on); the video ends there")
            position = now
        self._pending = bgr
        self._ended = bgr is None  # MAX_BAD_FRAMES in a row: the rest is taken as unreadable
        frames = f"frame {first + 1}" if bad == 1 else f"frames {first + 1}-{first + bad} ({bad} frames)"
        raise ImageError(f"{self.name}: {frames} of {total} cannot be decoded"
                         + ("; the video ends there" if self._ended else ""))

    def _read_file(self) -> Optional[np.ndarray]:
        with native_stderr(keep=lambda line: False):  # "[mjpeg @ 0x...] huffman table decode error", per frame
            ok, bgr = self._capture.read()
        return bgr if ok and bgr is not None else None

    def _position(self) -> tuple[int, int]:
        """The frame a read would give next, and the file's frame count (as its header says)."""
        get = self._capture.get
        return int(get(self._cv2.CAP_PROP_POS_FRAMES)), int(get(self._cv2.CAP_PROP_FRAME_COUNT))

    def close(self) -> None:
        self._capture.release()
