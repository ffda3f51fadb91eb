"""Reading photos from disk, identically for training and on the device (Pillow, EXIF orientation applied)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from piclassify.shared.errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8, turned upright by its EXIF orientation; ``ImageError`` names a bad file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"))
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image ({type(exc).__name__})") from None
