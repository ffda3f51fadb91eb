"""``garment`` framing: cut one garment out of a real photo and make it look like a Fashion-MNIST item.

Real clothes lie on wood floors, tiles, beds and striped rugs, or hang on doors and are worn: a
lighting fit and a threshold (``object-fill``) lock onto print patterns or the background. Here the
garment is cut out by colour instead. The photo is shrunk to about ``WORK_PIXELS`` pixels; a band
along the frame's edge seeds GrabCut's background colour model and the rest starts as probably
garment (the garment is assumed to be in the middle, not necessarily clear of the edges); one
GrabCut iteration (more let its colour models collapse onto the background), then the largest
component with its holes filled. When that leaves nothing, the garment has spread into the border
band (trousers top to bottom, a coat filling the frame): the band's rare colours then start as
garment too, and only its common colours (each at least ``COMMON_SHARE`` of the band) as background.

What Fashion-MNIST items look like is then made from the mask (Zalando's product photos on white,
converted to gray and negated): the garment's box is cut from the photo at up to ``DETAIL_PIXELS``
(the mask scaled up smoothly), luminance negated against the scene's white (the brighter of the
background and the garment's own 99th percentile, at least ``MIN_WHITE``: a white shirt becomes
dark whatever the exposure, as on Zalando's white), 0 outside the mask, the longest side filling
the frame and the box centred. OpenCV only; the trainer frames its real photos with this very
function, so the device sees what the model was trained on.

"Nothing in view" (the manifest's ``reject``): no garment apart from the background, a garment
outline that stands out by less than ``min_separation`` (the mean colour step across the outline,
in CIELAB units of OpenCV's 8-bit Lab: what GrabCut finds in an empty scene, a lamp's glow or wood
grain, steps by 12 at most, real garments by 18 and more), or a garment spanning less than
``min_size`` of the frame's shorter side.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from piclassify.shared.contract.reject import Reject
from piclassify.shared.framing.framed import Framed, FramingSteps
from piclassify.shared.framing.percentile import percentile

WORK_PIXELS = 64 * 85  # photos are segmented at about this many pixels: 64x85 portrait, 85x64 for 640x480
DETAIL_PIXELS = 320 * 240  # and the garment is cut from the photo at up to this many (4x WORK_PIXELS and more)
MIN_WHITE = 128.0  # the luminance negated against is at least this: a dim scene is not stretched to noise
BORDER_FRACTION = 0.04  # the band along the frame's edge that seeds the background model
COMMON_SHARE = 0.2  # second pass: border colours at least this common are background, rarer ones may be garment
BORDER_COLOURS = 4  # k-means clusters of the band's colours, second pass
MIN_AREA_FRACTION = 0.005  # a mask smaller than this share of the frame is no garment: try the second pass
SEED = 1  # GrabCut and k-means start from seeded random draws: a frame always frames alike


def work_size(width: int, height: int, pixels: int = WORK_PIXELS) -> tuple[int, int]:
    """The (width, height) a ``width`` x ``height`` photo is segmented at: about ``pixels``, never larger."""
    scale = min(1.0, float(np.sqrt(pixels / float(width * height))))
    return max(8, int(round(width * scale))), max(8, int(round(height * scale)))


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    gray = image if image.ndim == 2 else image[:, :, 0]
    return cv2.cvtColor(np.ascontiguousarray(gray), cv2.COLOR_GRAY2RGB)


def border_band(height: int, width: int) -> np.ndarray:
    band = max(2, int(round(BORDER_FRACTION * min(width, height))))
    mask = np.zeros((height, width), dtype=bool)
    mask[:band] = mask[-band:] = True
    mask[:, :band] = mask[:, -band:] = True
    return mask


def largest_filled(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of ``mask`` with its holes (background not reaching the edge) filled."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return np.zeros(mask.shape, dtype=bool)
    garment = labels == 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~garment).astype(np.uint8), connectivity=4)
    height, width = mask.shape
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        if x > 0 and y > 0 and x + w < width and y + h < height:  # a hole: background that never meets the edge
            garment |= labels == label
    return garment


def _grabcut(small: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(SEED)
    try:
        # no rectangle: GC_INIT_WITH_MASK starts from the seeds (OpenCV's stubs want one all the same)
        cv2.grabCut(small, seeds, None, background, foreground, 1, cv2.GC_INIT_WITH_MASK)  # type: ignore[call-overload]
    except cv2.error:  # a flat frame: too few distinct colours for a colour model
        return np.zeros(seeds.shape, dtype=bool)
    return largest_filled((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD))


def _common_border_seeds(small: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Seeds where only the band's common colours are background; its rare ones may be the garment."""
    seeds = np.full(band.shape, cv2.GC_PR_FGD, dtype=np.uint8)
    colours = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)[band].astype(np.float32)
    cv2.setRNGSeed(SEED)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, clusters, _ = cv2.kmeans(colours, BORDER_COLOURS, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    clusters = clusters.ravel()
    share = np.bincount(clusters, minlength=BORDER_COLOURS) / len(clusters)
    ys, xs = np.nonzero(band)
    common = share[clusters] >= COMMON_SHARE
    seeds[ys[common], xs[common]] = cv2.GC_BGD
    return seeds


def garment_mask(small: np.ndarray) -> np.ndarray:
    """Boolean mask of the garment in a small RGB image (see ``work_size``); all False when none is found."""
    height, width = small.shape[:2]
    band = border_band(height, width)
    seeds = np.full((height, width), cv2.GC_PR_FGD, dtype=np.uint8)
    seeds[band] = cv2.GC_BGD
    mask = _grabcut(small, seeds)
    if mask.sum() < MIN_AREA_FRACTION * mask.size:
        mask = _grabcut(small, _common_border_seeds(small, band))
    if mask.sum() < MIN_AREA_FRACTION * mask.size:
        return np.zeros((height, width), dtype=bool)
    return mask


def outline_contrast(small: np.ndarray, mask: np.ndarray) -> float:
    """The mean colour step across the garment's outline (CIELAB units), away from the frame's edge."""
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1)
    step = np.sqrt((gx * gx + gy * gy).sum(axis=2)) / 4.0  # a 3x3 Sobel answers 4x a step's height
    inside = mask.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    outline = (cv2.dilate(inside, kernel) > cv2.erode(inside, kernel)) & ~border_band(*mask.shape)
    return float(step[outline].mean()) if outline.any() else 0.0


def garment_patch(photo: np.ndarray, small: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The garment's box cut from ``photo`` (RGB) at up to ``DETAIL_PIXELS``: luminance negated against the
    scene's white inside the mask (``small``'s, scaled up smoothly), 0 outside."""
    height, width = mask.shape
    detail_w, detail_h = work_size(photo.shape[1], photo.shape[0], DETAIL_PIXELS)
    if (detail_w, detail_h) != (photo.shape[1], photo.shape[0]):
        photo = cv2.resize(photo, (detail_w, detail_h), interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(mask)
    sx, sy = detail_w / width, detail_h / height
    x0, x1 = int(xs.min() * sx), min(detail_w, int(np.ceil((xs.max() + 1) * sx)))  # 60 * (237 / 60) > 237
    y0, y1 = int(ys.min() * sy), min(detail_h, int(np.ceil((ys.max() + 1) * sy)))
    box = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    inside = cv2.resize(box, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    garment = cv2.cvtColor(photo[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32)
    small_gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    outside = border_band(height, width) & ~mask
    background = float(np.median(small_gray[outside])) if outside.any() else 0.0
    white = max(background, percentile(small_gray[mask], 99), MIN_WHITE)
    negated = np.clip(255.0 * (white - garment) / white, 0, 255)
    return (negated * np.clip(inside, 0, 1)).astype(np.uint8)


def fill_frame(patch: np.ndarray, size: int) -> np.ndarray:
    """The longest side of ``patch`` fills ``size`` (aspect kept), centred on black."""
    h, w = patch.shape
    scale = size / max(h, w)
    new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    interpolation = cv2.INTER_AREA if scale <= 1 else cv2.INTER_LINEAR
    canvas = np.zeros((size, size), dtype=np.uint8)
    x0, y0 = (size - new_w) // 2, (size - new_h) // 2
    canvas[y0:y0 + new_h, x0:x0 + new_w] = cv2.resize(patch, (new_w, new_h), interpolation=interpolation)
    return canvas


def frame_garment(image: np.ndarray, size: int, reject: Reject = Reject(),
                  steps: Optional[FramingSteps] = None) -> Framed:
    """A photo of one garment (RGB; a gray one is cut by brightness alone) -> ``size`` x ``size`` uint8,
    the garment light on black as in Fashion-MNIST, or no image and why nothing is in view."""
    rgb = _as_rgb(image)
    width, height = work_size(rgb.shape[1], rgb.shape[0])
    small = rgb if (width, height) == (rgb.shape[1], rgb.shape[0]) else cv2.resize(
        rgb, (width, height), interpolation=cv2.INTER_AREA)
    mask = garment_mask(small)
    if steps is not None:
        steps.keep("small", small)
        steps.keep("mask", mask.astype(np.uint8) * 255)
    if not mask.any():
        return Framed(None, "no garment apart from the background")
    if outline_contrast(small, mask) < reject.min_separation:
        return Framed(None, "garment outline too faint")
    ys, xs = np.nonzero(mask)
    if max(np.ptp(xs), np.ptp(ys)) + 1 < reject.min_size * min(width, height):
        return Framed(None, "garment too small")
    patch = garment_patch(rgb, small, mask)
    if steps is not None:
        steps.keep("garment", patch)
    return Framed(fill_frame(patch, size))
