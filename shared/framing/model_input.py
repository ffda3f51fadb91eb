"""Frame a camera photo the way the model's training images were framed, as the manifest says.

RGB models: ``squash``, ``centre-crop`` or ``letterbox`` to the input size (``shrink``: area averaging).

"Nothing in view" is decided here for the 28x28 models, by the manifest's ``reject`` settings:
no object with enough contrast, only texture or noise, an object too small, or nothing but
background touching the frame's edge. ``frame_for_model`` then returns no image and the reason.

28x28 grayscale models see a single object, light on dark. A real photo shows a dark digit on
light, unevenly lit paper, off-centre. ``object`` repeats how MNIST itself was made: estimate
the lighting, detect the polarity, threshold, find the object, fit it into the inner 20x20 keeping
its aspect, and centre it by centre of mass in 28x28. ``object-fill`` is Fashion-MNIST's recipe:
the longest side fills the frame and the box is centred. Uses OpenCV; the trainer evaluates with it
too, so the device and the trainer's checks frame photos identically.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

import cv2
import numpy as np

from piclassify.shared.contract.manifest import Manifest
from piclassify.shared.contract.reject import Reject
from piclassify.shared.errors import ImageError
from piclassify.shared.framing.framed import Framed, FramingSteps
from piclassify.shared.framing.percentile import percentile

WORK_WIDTH = 160  # photos are analysed and the object cut at this width: 4x less work on 640x480
# MNIST's pen: its strokes are about 2.4 px wide in the 20 px box a digit fills (the median of the test set), 12% of
# the box. A pencil or fine pen on a large digit is a third of that once the digit is scaled to 20 px, and the 28x28
# network, which never saw such thin strokes, misreads them (96.0% of real digit photos right; 99.2% thickened).
STROKE_WIDTH = 0.12  # of the object's longer side: thinner strokes are thickened to it, thicker ones are left alone
STROKE_SIDE = 80  # a small object is enlarged to this side first, so that the thickening is not whole work pixels
NO_CONTRAST = "no object with enough contrast"
TEXTURE = "only texture or noise"
BORDER_ONLY = "nothing but background at the edges of the frame"
TOO_SMALL = "object too small"
FRAMING_REASONS = (NO_CONTRAST, TEXTURE, BORDER_ONLY, TOO_SMALL)  # "nothing in view" said by the framing
LIGHTING_GRID = (16, 12)  # the lighting surface is fitted on the frame's border at this resolution
PILLOW_FILTERS = ("nearest", "lanczos")  # resamples done as Pillow does them (Keras' load_img, ImageOps.fit)


def to_gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise ImageError(f"expected a gray or RGB image, got shape {image.shape}")


def to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    return cv2.cvtColor(to_gray(image), cv2.COLOR_GRAY2RGB)


def resize_area(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """INTER_AREA resize; a frame is first cropped to a whole multiple of the target, which is ~6x faster, when
    that crop loses at most 1/16 of a side (644x484 to 160x120: yes; a 280x280 drawing to 160x160: no)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    if w > width and h > height:
        crop_w, crop_h = (w // width) * width, (h // height) * height
        x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
        if crop_w * height == crop_h * width and (w - crop_w) * 16 <= w and (h - crop_h) * 16 <= h:
            image = image[y0:y0 + crop_h, x0:x0 + crop_w]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to (width, height): halved by area averaging while still twice as large, then one linear step.

    As smooth as a single INTER_AREA resize, at a third of its cost for a camera frame (INTER_AREA is fast only
    for whole factors): 0.2 ms instead of 1.1 ms for 480x480 to 224x224 here.
    """
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def frame_rgb(image: np.ndarray, width: int, height: int, mode: str, resample: str = "area") -> np.ndarray:
    """Fit an RGB photo to the model's input size with the manifest's resize mode and way of resampling: ``area``
    (``shrink``), ``bilinear`` (TensorFlow's), or Pillow's ``nearest`` or ``lanczos`` (``shared.framing.resample``)."""
    image = to_rgb(image)
    if resample in PILLOW_FILTERS:
        from piclassify.shared.framing.resample import frame_with_pillow

        return frame_with_pillow(image, width, height, mode, resample)
    resize = shrink if resample == "area" else linear
    h, w = image.shape[:2]
    if mode == "squash":
        return resize(image, width, height)
    if mode == "centre-crop":
        scale = min(w / width, h / height)
        crop_w, crop_h = int(round(width * scale)), int(round(height * scale))
        x0, y0 = (w - crop_w) // 2, (h - crop_h) // 2
        return resize(image[y0:y0 + crop_h, x0:x0 + crop_w], width, height)
    if mode == "letterbox":
        scale = min(width / w, height / h)
        new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        canvas = np.zeros((height, width, 3), dtype=np.uint8)
        x0, y0 = (width - new_w) // 2, (height - new_h) // 2
        canvas[y0:y0 + new_h, x0:x0 + new_w] = resize(image, new_w, new_h)
        return canvas
    raise ImageError(f"resize mode {mode!r} is not for RGB models")


def linear(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """One bilinear step, no antialiasing: what ``tf.image.resize`` and the TFLite Task Library do (half-pixel
    centres, as OpenCV's)."""
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=cv2.INTER_LINEAR)


@lru_cache(maxsize=4)
def _lighting_model(grid_w: int, grid_h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quadratic surface basis over the grid, and the least-squares solver for its border pixels."""
    ys, xs = np.mgrid[0:grid_h, 0:grid_w].astype(np.float32)
    xs, ys = xs / (grid_w - 1) - 0.5, ys / (grid_h - 1) - 0.5
    basis = np.stack([np.ones_like(xs), xs, ys, xs * xs, ys * ys, xs * ys], axis=-1).reshape(-1, 6)
    edges = np.zeros((grid_h, grid_w), dtype=bool)
    edges[[0, -1], :] = True
    edges[:, [0, -1]] = True
    border = edges.reshape(-1)
    return basis, np.linalg.pinv(basis[border]), border


def estimate_lighting(gray: np.ndarray) -> np.ndarray:
    """The background's brightness everywhere, as a smooth surface fitted to the frame's border.

    The object is assumed not to touch the border; uneven light (a lamp to one side, vignetting)
    is what the quadratic surface absorbs.
    """
    grid_w, grid_h = LIGHTING_GRID
    small = cv2.resize(gray, (grid_w, grid_h), interpolation=cv2.INTER_AREA).astype(np.float32).reshape(-1)
    basis, solver, border = _lighting_model(grid_w, grid_h)
    surface = (basis @ (solver @ small[border])).reshape(grid_h, grid_w)
    return cv2.resize(surface, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)


def object_contrast(gray: np.ndarray) -> np.ndarray:
    """How far each pixel stands out from the background, light objects and dark ones alike (uint8)."""
    diff = gray.astype(np.float32) - estimate_lighting(gray)
    dark, light = float(-diff.min()), float(diff.max())
    contrast = -diff if dark > light else diff
    return np.clip(contrast, 0, 255).astype(np.uint8)


def object_box(contrast: np.ndarray, reject: Reject) -> tuple[Optional[tuple[int, int, int, int]], Optional[str]]:
    """Bounding box (x, y, w, h) of the object: the largest Otsu component plus the pieces near it.

    Or no box, and the reason: nothing stands out (a blank sheet), what stands out is texture or
    noise spread over the frame (its pixels stand out little on average), only background touches
    the edges, or the object is too small to read.
    """
    if int(contrast.max()) < reject.min_contrast:
        return None, NO_CONTRAST
    _, mask = cv2.threshold(contrast, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    inside = mask > 0
    separation = float(contrast[inside].mean()) - float(contrast[~inside].mean()) if not inside.all() else 0.0
    if separation < reject.min_separation:
        return None, TEXTURE
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    height, width = contrast.shape
    candidates = list(range(1, count))
    if reject.border_is_background:
        candidates = [label for label in candidates if not _touches_border(stats[label], width, height)]
    if not candidates:
        return None, BORDER_ONLY
    areas = {label: int(stats[label, cv2.CC_STAT_AREA]) for label in candidates}
    largest = max(areas, key=areas.__getitem__)
    x, y, w, h = (int(v) for v in stats[largest, :4])
    reach = max(w, h) // 2
    x0, y0, x1, y1 = x, y, x + w, y + h
    for label in candidates:
        cx, cy, cw, ch = (int(v) for v in stats[label, :4])
        near = cx < x + w + reach and cx + cw > x - reach and cy < y + h + reach and cy + ch > y - reach
        if label != largest and near and areas[label] * 20 >= areas[largest]:
            x0, y0, x1, y1 = min(x0, cx), min(y0, cy), max(x1, cx + cw), max(y1, cy + ch)
    if max(x1 - x0, y1 - y0) < reject.min_size * min(width, height):
        return None, TOO_SMALL
    return (x0, y0, x1 - x0, y1 - y0), None


def _touches_border(stat: np.ndarray, width: int, height: int) -> bool:
    x, y, w, h = (int(v) for v in stat[:4])
    return x == 0 or y == 0 or x + w == width or y + h == height


def stretch(patch: np.ndarray) -> np.ndarray:
    """Background to 0 and stroke cores to 255, keeping the anti-aliased edges in between."""
    threshold, _ = cv2.threshold(patch, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    low = threshold / 2.0
    high = max(percentile(patch[patch > threshold], 90) if np.any(patch > threshold) else 255.0, low + 1)
    return np.clip((patch.astype(np.float32) - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def stroke_width(mask: np.ndarray) -> float:
    """The mean width of a mask's strokes in pixels: twice its area over its outline's length."""
    outlines = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)[0]
    length = sum(cv2.arcLength(outline, True) for outline in outlines)
    return 2.0 * float(np.count_nonzero(mask)) / max(length, 1.0)


def thicken(patch: np.ndarray, width: float = STROKE_WIDTH) -> np.ndarray:
    """Strokes thinner than ``width`` (a share of the patch's longer side) dilated to it, as MNIST's pen drew them."""
    side = max(patch.shape)
    if side < STROKE_SIDE:
        scale = STROKE_SIDE / side
        patch = cv2.resize(patch, (max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))),
                           interpolation=cv2.INTER_LINEAR)
        side = max(patch.shape)
    mask = patch > 127
    if not mask.any():
        return patch
    missing = int(round(width * side - stroke_width(mask)))
    if missing < 1:
        return patch
    return cv2.dilate(patch, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (missing + 1, missing + 1)))


def place(patch: np.ndarray, size: int, box: int, by_mass: bool) -> np.ndarray:
    """Fit ``patch`` into a ``box`` square keeping aspect, then centre it in a ``size`` square."""
    h, w = patch.shape
    scale = box / max(h, w)
    new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    fitted = cv2.resize(patch, (new_w, new_h), interpolation=cv2.INTER_AREA)
    if by_mass and fitted.sum() > 0:
        moments = cv2.moments(fitted)
        cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    else:
        cx, cy = new_w / 2.0, new_h / 2.0
    x0 = int(np.clip(round(size / 2.0 - cx), 0, size - new_w))
    y0 = int(np.clip(round(size / 2.0 - cy), 0, size - new_h))
    canvas = np.zeros((size, size), dtype=np.uint8)
    canvas[y0:y0 + new_h, x0:x0 + new_w] = fitted
    return canvas


def frame_object(image: np.ndarray, size: int, fill: bool, reject: Reject = Reject(),
                 steps: Optional[FramingSteps] = None) -> Framed:
    """A photo of one object -> ``size`` x ``size`` uint8, object light on dark (MNIST's polarity).

    ``fill`` is Fashion-MNIST's recipe (the object fills the frame); without it, MNIST's: the object fits a 20x20
    box, centred by mass, its strokes as wide as MNIST's pen (``thicken``).
    """
    gray = to_gray(image)
    full_h, full_w = gray.shape
    work_w = min(WORK_WIDTH, full_w)
    work_h = max(1, int(round(full_h * work_w / full_w)))
    work = resize_area(gray, work_w, work_h)
    contrast = object_contrast(work)
    box, reason = object_box(contrast, reject)
    if steps is not None:
        steps.keep("gray", work)
        steps.keep("contrast", contrast)
    if box is None:
        return Framed(None, reason)
    x, y, w, h = box
    patch = stretch(contrast[y:y + h, x:x + w])
    if not fill:
        patch = thicken(patch)
    if steps is not None:
        steps.keep("object", patch)
    return Framed(place(patch, size, size if fill else (size * 20) // 28, by_mass=not fill))


def frame_for_model(image: np.ndarray, manifest: Manifest, steps: Optional[FramingSteps] = None) -> Framed:
    """Any RGB or gray uint8 photo -> the uint8 image the model's input expects, per the manifest.

    For ``object`` framing, the manifest's ``reject`` settings may find nothing in view instead.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ImageError(f"expected a uint8 gray or RGB image, got {image.dtype} {image.shape}")
    if manifest.resize in ("object", "object-fill"):
        framed = frame_object(image, manifest.height, manifest.resize == "object-fill", manifest.reject, steps)
        if framed.image is None:
            return framed
        model_input = 255 - framed.image if manifest.polarity == "dark-on-light" else framed.image
    elif manifest.resize == "garment":  # real clothes on any background, cut out by colour (RGB in)
        from piclassify.shared.framing.garment import frame_garment

        framed = frame_garment(image, manifest.height, manifest.reject, steps)
        if framed.image is None:
            return framed
        model_input = framed.image
    elif manifest.colour == "gray":  # light-on-dark: a photo of ink on paper, inverted (a white digit on black)
        model_input = to_gray(frame_rgb(image, manifest.width, manifest.height, manifest.resize, manifest.resample))
        if manifest.polarity == "light-on-dark":
            model_input = 255 - model_input
    else:
        model_input = frame_rgb(image, manifest.width, manifest.height, manifest.resize, manifest.resample)
    if steps is not None:
        steps.keep("model-input", model_input)
    return Framed(model_input)
