"""A photo resized as Pillow resizes it, for models made with tools that resize with Pillow.

A model learns the look of its training images, down to how they were resized: Keras' ``load_img`` picks
the nearest pixel (the workshop's notebook trains and predicts that way) and Teachable Machine's snippet
crops with ``ImageOps.fit`` and Lanczos. Repeating their calls exactly makes an imported model answer a
photo as its own tool does (``tests/device/imports`` compares them). TensorFlow's bilinear resize is
``shared.framing.model_input.linear``.
"""

from __future__ import annotations

import numpy as np

from piclassify.shared.errors import ImageError


def frame_with_pillow(rgb: np.ndarray, width: int, height: int, mode: str, resample: str) -> np.ndarray:
    """An RGB photo to ``width`` x ``height``: ``squash`` (``Image.resize``), ``centre-crop`` (``ImageOps.fit``) or
    ``letterbox`` (``ImageOps.pad``, black bars), with Pillow's ``nearest`` or ``lanczos`` filter."""
    from PIL import Image, ImageOps

    method = {"nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}[resample]
    image = Image.fromarray(np.ascontiguousarray(rgb))
    if mode == "squash":
        resized = image.resize((width, height), method)
    elif mode == "centre-crop":
        resized = ImageOps.fit(image, (width, height), method)
    elif mode == "letterbox":
        resized = ImageOps.pad(image, (width, height), method, color=(0, 0, 0))
    else:
        raise ImageError(f"resize mode {mode!r} is not for RGB models")
    return np.asarray(resized, dtype=np.uint8)
