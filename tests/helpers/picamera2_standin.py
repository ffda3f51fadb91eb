"""A stand-in for picamera2 that follows its documented API and memory layouts exactly.

Documented behaviour it reproduces (Picamera2 manual; picamera2/request.py ``make_array``):
``Picamera2.global_camera_info()`` lists attached cameras; ``create_video_configuration(main=...)``
returns a configuration dict; ``configure``, ``start``, ``capture_array("main")``, ``stop``,
``close``; ``stream_configuration("main")`` gives size, format and stride. ``RGB888`` arrays are
(h, w, 3) in B, G, R order; ``XRGB8888`` is (h, w, 4) B, G, R, A; ``YUV420`` is (h * 3 // 2, stride)
I420 with the stride rounded up to 64 bytes, so rows carry padding past the image width.
"""

from __future__ import annotations

import types
from typing import Any, Optional

import cv2
import numpy as np


def _align(value: int, to: int = 64) -> int:
    return (value + to - 1) // to * to


class Picamera2:
    cameras: list[dict[str, Any]] = [{"Model": "imx708", "Location": 2, "Rotation": 180, "Id": "/base/imx708", "Num": 0}]
    scene: np.ndarray = np.zeros((480, 640, 3), dtype=np.uint8)  # RGB, what the lens sees
    fail_after: Optional[int] = None  # captures before capture_array raises, to simulate a lost camera
    instances: list["Picamera2"] = []

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= len(self.cameras):
            raise IndexError("list index out of range")
        self.camera_config: Optional[dict[str, Any]] = None
        self.started = False
        self.closed = False
        self.captures = 0
        type(self).instances.append(self)

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return list(Picamera2.cameras)

    def create_video_configuration(self, main: Optional[dict] = None, **kwargs: Any) -> dict[str, Any]:
        main = {"format": "XBGR8888", "size": (1280, 720), **(main or {})}
        return {"use_case": "video", "main": main, "lores": None, "raw": None, "buffer_count": 6, **kwargs}

    def configure(self, config: dict[str, Any]) -> None:
        main = dict(config["main"])
        width, height = main["size"]
        bytes_per_pixel = {"RGB888": 3, "BGR888": 3, "XRGB8888": 4, "XBGR8888": 4, "YUV420": 1}[main["format"]]
        main["stride"] = _align(width * bytes_per_pixel)
        self.camera_config = {**config, "main": main}

    def stream_configuration(self, name: str = "main") -> dict[str, Any]:
        assert self.camera_config is not None, "configure() first"
        return self.camera_config[name]

    def start(self) -> None:
        assert self.camera_config is not None, "configure() first"
        self.started = True

    def capture_array(self, name: str = "main") -> np.ndarray:
        if not self.started or self.closed:
            raise RuntimeError("Camera is not running")
        if self.fail_after is not None and self.captures >= self.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        self.captures += 1
        config = self.stream_configuration(name)
        width, height = config["size"]
        rgb = cv2.resize(self.scene, (width, height), interpolation=cv2.INTER_AREA)
        fmt = config["format"]
        if fmt == "RGB888":
            return rgb[:, :, ::-1].copy()
        if fmt == "XRGB8888":
            return np.dstack([rgb[:, :, ::-1], np.full((height, width), 255, np.uint8)])
        if fmt == "YUV420":
            padded = cv2.copyMakeBorder(rgb, 0, 0, 0, config["stride"] - width, cv2.BORDER_REPLICATE)
            return cv2.cvtColor(padded, cv2.COLOR_RGB2YUV_I420)
        raise RuntimeError(f"Format {fmt} not supported")

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.started = False
        self.closed = True


def module(scene: np.ndarray, cameras: Optional[list] = None, fail_after: Optional[int] = None) -> types.ModuleType:
    """A fresh ``picamera2`` module whose camera sees ``scene``; install it with monkeypatch.setitem(sys.modules, ...)."""
    camera_class = type("Picamera2", (Picamera2,), {
        "scene": scene, "fail_after": fail_after, "instances": [],
        "cameras": Picamera2.cameras if cameras is None else cameras,
    })
    camera_class.global_camera_info = staticmethod(lambda: list(camera_class.cameras))
    fake = types.ModuleType("picamera2")
    fake.Picamera2 = camera_class
    return fake
