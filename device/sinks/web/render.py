"""Pictures for the web view: a frame with its answer (label and score) drawn on it as JPEG; the model input as PNG.

The frame rate is not drawn: the page shows one rate, in its status, with what it counts (``FrameLoop.fps``).

Runs outside the classify loop, on one long-lived thread of its own: OpenCV keeps some state for
each thread that calls it and never frees it when that thread ends, and the web server starts a
thread per request, so drawing in the request's thread grew the service by 15 MB an hour for a page
watching at 5 frames/s (``scripts/bench_soak.py``). The frame is converted from the camera's layout
into a new array (the loop's ``Frame`` and its cached conversions are not touched), so drawing never
marks pixels another sink may still save.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import cv2
import numpy as np

from piclassify.device.core.frames import Frame
from piclassify.shared.contract.result import Result

STREAM_WIDTHS = (320, 640)  # frames are scaled into this range of widths before encoding
JPEG_QUALITY = 75
_DRAWING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-drawing")  # the one thread OpenCV draws on


def to_bgr(frame: Frame) -> np.ndarray:
    """A new (H, W, 3) BGR array from a frame in any layout."""
    pixels, layout = frame.pixels, frame.layout
    if layout == "BGR":
        return pixels.copy()
    if layout == "RGB":
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if layout == "BGRA":
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
    if layout == "YUV420":
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_YUV2BGR_I420)[:, :frame.width])
    return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)


def caption(result: Optional[Result]) -> str:
    """``7 (0.98)``; ``nothing in view``; ``waiting for a frame``."""
    if result is None:
        return "waiting for a frame"
    if result.label is None:
        return "nothing in view"
    return f"{result.label} ({result.score:.2f})" if result.score is not None else result.label


def _fit(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    low, high = STREAM_WIDTHS
    target = min(max(width, low), high)
    if target == width:
        return image
    interpolation = cv2.INTER_AREA if target < width else cv2.INTER_LINEAR
    return cv2.resize(image, (target, max(1, round(height * target / width))), interpolation=interpolation)


def frame_jpeg(frame: Frame, text: str, quality: int = JPEG_QUALITY) -> bytes:
    """The frame, scaled to 320-640 pixels wide, with ``text`` on a dark band at the top, as JPEG."""
    return _DRAWING.submit(_frame_jpeg, frame, text, quality).result()


def model_input_png(image: Optional[np.ndarray], size: tuple[int, int]) -> bytes:
    """The exact model input, lossless; black at the model's (width, height) when nothing is in view yet."""
    return _DRAWING.submit(_model_input_png, image, size).result()


def crop_jpeg(crop: Frame, quality: int = JPEG_QUALITY) -> bytes:
    """A region's crop as it was classified, at its own size, as JPEG."""
    return _DRAWING.submit(_crop_jpeg, crop, quality).result()


def _crop_jpeg(crop: Frame, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(crop.rgb), cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV only fails on empty images
        raise ValueError("cannot encode a region as JPEG")
    return data.tobytes()


def _frame_jpeg(frame: Frame, text: str, quality: int) -> bytes:
    image = _fit(to_bgr(frame))
    width = image.shape[1]
    scale = width / 640 * 1.5
    thickness = max(1, round(scale * 2))
    (_, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    band = text_h + baseline + 2 * max(4, round(8 * scale))
    band = min(band, image.shape[0])
    image[:band] = image[:band] // 3  # darken, so white text reads on any picture
    cv2.putText(image, text, (max(4, round(10 * scale)), band - baseline - max(2, round(6 * scale))),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV only fails on empty images
        raise ValueError("cannot encode frame as JPEG")
    return data.tobytes()


def _model_input_png(image: Optional[np.ndarray], size: tuple[int, int]) -> bytes:
    if image is None:
        image = np.zeros((size[1], size[0]), np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:  # pragma: no cover
        raise ValueError("cannot encode model input as PNG")
    return data.tobytes()
