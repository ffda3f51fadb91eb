"""The Raspberry Pi camera through picamera2 (Debian's ``python3-picamera2``; imported lazily).

Two memory-layout details matter: picamera2's ``RGB888`` is B, G, R in memory (libcamera names
formats by the 32-bit word, little-endian), and ``YUV420`` arrays are (height * 3/2, stride) with
a stride that can be wider than the image. Frames keep the camera's layout (``BGR``, ``BGRA``,
``YUV420``); ``Frame`` converts once, to what the model needs: a gray model reads YUV420's Y plane as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from piclassify.device.core.sources.base import FrameSource
from piclassify.device.errors import CameraError

# picamera2 format -> the Frame layout its arrays have in memory
LAYOUTS = {"RGB888": "BGR", "XRGB8888": "BGRA", "YUV420": "YUV420"}
INSTALL_HINT = ("on a Raspberry Pi: sudo apt install python3-picamera2, and create the virtualenv with "
                "--system-site-packages")


def picamera2_class() -> Any:
    """``picamera2.Picamera2``, or ``CameraError`` saying how to install it."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        raise CameraError(f"picamera2: not installed ({INSTALL_HINT})") from None
    return Picamera2


class Picamera2Source(FrameSource):
    """Frames from the Pi camera's main stream at ``size``; the camera is closed on every exit path."""

    def __init__(self, size: tuple[int, int] = (640, 480), fmt: str = "RGB888", camera_num: int = 0) -> None:
        super().__init__()
        if fmt not in LAYOUTS:
            raise CameraError(f"picamera2: format {fmt!r} is not supported; use one of {', '.join(LAYOUTS)}")
        Picamera2 = picamera2_class()
        if not Picamera2.global_camera_info():
            raise CameraError("picamera2: no camera detected (check the ribbon cable and "
                              "`rpicam-hello --list-cameras`)")
        self.name = f"picamera2:{camera_num}"
        try:
            self._camera = Picamera2(camera_num)
        except (RuntimeError, IndexError, OSError) as exc:
            raise CameraError(f"{self.name}: cannot open ({exc})") from None
        try:
            config = self._camera.create_video_configuration(main={"size": tuple(size), "format": fmt})
            self._camera.configure(config)
            stream = self._camera.stream_configuration("main")
            self.layout = LAYOUTS[stream["format"]]
            self._image_width = stream["size"][0]
            self._camera.start()
        except (RuntimeError, OSError, ValueError, KeyError) as exc:
            self._camera.close()
            raise CameraError(f"{self.name}: cannot start ({exc})") from None
        self._closed = False

    def read(self) -> tuple[np.ndarray, str]:
        try:
            array = self._camera.capture_array("main")
        except (RuntimeError, OSError) as exc:
            raise CameraError(f"{self.name}: capture failed ({exc})") from None
        return array, self.name

    def _width(self, pixels: np.ndarray) -> int:
        return self._image_width

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._camera.stop()
        finally:
            self._camera.close()


def picamera_available() -> bool:
    """True when picamera2 imports and sees at least one camera."""
    try:
        return bool(picamera2_class().global_camera_info())
    except CameraError:
        return False
