"""Frame a photo of one garment the way Fashion-MNIST's product photos were framed (``garment`` mode).

Real clothes lie on wood floors, tiles, beds and striped rugs, or hang on doors: a lighting fit and
a threshold (``object``) lock onto print patterns or the background. Here the garment is cut out by
colour instead: the photo is shrunk to about ``WORK_PIXELS`` pixels, a band along the frame's border
seeds GrabCut's background colour model (the garment is assumed to be roughly in the middle), the
largest foreground component is kept and its holes filled. Then what Fashion-MNIST items look like
is made from it: luminance negated (255 - gray) inside the mask, 0 outside, cropped to the mask's
box, the longest side filling the frame and the box centred. OpenCV only; the trainer frames its
real photos with this very function, so the device sees what the model was trained on.
"""

from __future__ import annotations

from typing import Any, Optional

import cv2
import numpy as np

WORK_PIXELS = 64 * 85  # the photo is segmented at about this many pixels (64x85 portrait, 85x64 landscape)
BORDER_FRACTION = 0.04  # the band along the frame's edge that seeds the background model
GRABCUT_ITERATIONS = 3
MIN_AREA_FRACTION = 0.02  # a garment covers at least this share of the frame, or nothing is in view
SEED = 1  # GrabCut initialises its colour models with k-means: seeded, so a frame always frames alike


def work_size(width: int, height: int, pixels: int = WORK_PIXELS) -> tuple[int, int]:
    """The (width, height) a ``width`` x ``height`` photo is segmented at: about ``pixels``, never larger."""
    scale = min(1.0, float(np.sqrt(pixels / float(width * height))))
    return max(8, int(round(width * scale))), max(8, int(round(height * scale)))


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    gray = image if image.ndim == 2 else image[:, :, 0]
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def _border_band(height: int, width: int) -> np.ndarray:
    band = max(2, int(round(BORDER_FRACTION * min(width, height))))
    mask = np.zeros((height, width), dtype=bool)
    mask[:band] = mask[-band:] = True
    mask[:, :band] = mask[:, -band:] = True
    return mask


def _largest_filled(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of ``mask`` with its holes (background not reaching the edge) filled."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return np.zeros_like(mask, dtype=bool)
    garment = labels == 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~garment).astype(np.uint8), connectivity=4)
    height, width = mask.shape
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        if x > 0 and y > 0 and x + w < width and y + h < height:  # a hole: background that never meets the edge
            garment |= labels == label
    return garment


def garment_mask(small: np.ndarray) -> np.ndarray:
    """Boolean mask of the garment in a small RGB image (``work_size``): GrabCut seeded from the border."""
    height, width = small.shape[:2]
    seeds = np.full((height, width), cv2.GC_PR_FGD, dtype=np.uint8)
    seeds[_border_band(height, width)] = cv2.GC_BGD
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(SEED)
    try:
        cv2.grabCut(small, seeds, None, background, foreground, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # a flat frame: too few distinct colours for the colour models
        return np.zeros((height, width), dtype=bool)
    return _largest_filled((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD))


def garment_patch(small: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Negated luminance inside the mask, 0 outside, cropped to the mask's bounding box."""
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    negated = np.where(mask, 255 - gray, 0).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    return negated[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def fill_frame(patch: np.ndarray, size: int) -> np.ndarray:
    """The longest side of ``patch`` fills ``size`` (INTER_AREA, aspect kept), centred on black."""
    h, w = patch.shape
    scale = size / max(h, w)
    new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    canvas = np.zeros((size, size), dtype=np.uint8)
    x0, y0 = (size - new_w) // 2, (size - new_h) // 2
    interpolation = cv2.INTER_AREA if scale <= 1 else cv2.INTER_LINEAR
    canvas[y0:y0 + new_h, x0:x0 + new_w] = cv2.resize(patch, (new_w, new_h), interpolation=interpolation)
    return canvas


def frame_garment(image: np.ndarray, size: int, steps: Optional[Any] = None) -> Optional[np.ndarray]:
    """A photo of one garment -> ``size`` x ``size`` uint8, light garment on black; None when none is found.

    ``image`` is RGB (a gray one is segmented by brightness alone). ``steps`` is anything with a
    ``keep(name, image)`` method (``shared.framing.FramingSteps``) to collect the intermediate images.
    """
    rgb = _as_rgb(image)
    width, height = work_size(rgb.shape[1], rgb.shape[0])
    small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA) if (width, height) != rgb.shape[1::-1] else rgb
    mask = garment_mask(small)
    if steps is not None:
        steps.keep("small", small)
        steps.keep("mask", mask.astype(np.uint8) * 255)
    if mask.sum() < MIN_AREA_FRACTION * mask.size:
        return None
    patch = garment_patch(small, mask)
    if steps is not None:
        steps.keep("garment", patch)
    return fill_frame(patch, size)
