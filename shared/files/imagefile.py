"""Reading photos from disk, identically for training and on the device (Pillow, EXIF orientation applied).

Every file is untrusted: a 45-byte PNG can claim 30000x30000 pixels. The size in the header is
checked before anything is decoded, against ``max_pixels()``: 16 million by default, above any Pi
camera's frame (the HQ camera's 12.3 MP), and small enough that a whole ``piclassify predict`` of
such an image peaks at about 230 MB RSS (x86; tests/hardening/test_hardening_images.py holds it under 300 MB),
which a Pi with 1 GB survives. ``PICLASSIFY_MAX_PIXELS`` moves it per machine.

A JPEG above the limit is decoded at 1/2, 1/4 or 1/8 scale (Pillow's draft mode, the DCT scaling of
libjpeg) rather than refused: a 48 MP phone photo becomes 12 MP. Images within the limit are decoded
in full as before, so every training photo and camera frame gets exactly the pixels it always did;
only an image that would otherwise be refused is reduced, the same way on both sides.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Optional, Union

import numpy as np

from piclassify.shared.errors import ImageError
from piclassify.shared.files.regular_file import open_regular
from piclassify.shared.native_stderr import native_stderr

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MAX_PIXELS = 16_000_000
MAX_PIXELS_ENV = "PICLASSIFY_MAX_PIXELS"


def max_pixels() -> int:
    """The most pixels one image may decode to: ``$PICLASSIFY_MAX_PIXELS``, else ``MAX_PIXELS``."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return MAX_PIXELS
    if not text.isdigit() or int(text) < 1:
        raise ImageError(f"{MAX_PIXELS_ENV}={text!r}: expected a whole number of pixels, such as {MAX_PIXELS}")
    return int(text)


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8, turned upright by its EXIF orientation; ``ImageError`` names a bad file."""
    try:
        with open_regular(path) as handle:
            return _decode(handle, path)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as exc:  # opening it failed: permissions, a FIFO, a folder
        raise ImageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def decode_image(data: bytes, name: str, limit: Optional[int] = None, shorter_side: Optional[int] = None) -> np.ndarray:
    """Image bytes (an upload) as ``read_image`` reads a file, with the same one-line errors: at most ``limit``
    pixels (default ``max_pixels()``). With ``shorter_side``, a JPEG is decoded at the smallest of libjpeg's scales
    (1/2 to 1/8) that keeps its shorter side at least that long: a 12 MP phone photo at 1/8 (504 x 378), in a
    fraction of the time and memory."""
    return _decode(io.BytesIO(data), name, limit, shorter_side)


def _decode(stream: BinaryIO, where: Union[str, Path], limit: Optional[int] = None,
            shorter_side: Optional[int] = None) -> np.ndarray:
    from PIL import Image, ImageOps

    limit = limit or max_pixels()
    try:
        with Image.open(stream) as image:
            _fit(image, where, limit, shorter_side)
            if image.format == "TIFF":  # libtiff prints each complaint itself; the error below is the one line
                with native_stderr(keep=lambda line: False):
                    image.load()
            ImageOps.exif_transpose(image, in_place=True)
            if image.mode == "RGB":
                return np.asarray(image)
            with image.convert("RGB") as rgb:
                image.close()  # the original's pixels go before the copy below is made
                return np.asarray(rgb)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{where}: too large to decode ({str(exc).split(',')[0]})") from None
    except Exception as exc:  # Pillow's decoders raise many types on malformed data (struct.error, EOFError, ...)
        raise ImageError(f"{where}: not a readable image ({type(exc).__name__})") from None


def _fit(image: PILImage, path: Union[str, Path], limit: int, shorter_side: Optional[int] = None) -> None:
    """Refuse an image over ``limit`` pixels before decoding it; a JPEG is first reduced by DCT scaling (to fit
    the limit, and as far as ``shorter_side`` allows)."""
    width, height = image.size
    if image.format == "JPEG":
        wanted = (width, height)
        if width * height > limit:
            scale = next((s for s in (2, 4, 8) if math.ceil(width / s) * math.ceil(height / s) <= limit), 8)
            wanted = (max(1, width // scale), max(1, height // scale))
        if shorter_side is not None and min(width, height) > shorter_side:
            reduce = shorter_side / min(width, height)
            wanted = min(wanted, (math.ceil(width * reduce), math.ceil(height * reduce)))
        if wanted != (width, height):
            image.draft(None, wanted)
    if image.size[0] * image.size[1] <= limit:
        return
    limited = f"this machine decodes (set {MAX_PIXELS_ENV} to change it)" if limit == max_pixels() else "decoded here"
    raise ImageError(f"{path}: {width}x{height} is {width * height:,} pixels, more than the {limit:,} {limited}")
