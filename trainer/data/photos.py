"""Camera photos from what we have: dataset images rendered as photos, real photos shot again differently.

``render_photo`` prints a 28x28 item dark on light, unevenly lit paper, off-centre, noisy: what the
device will see, made from images with known labels, so the framing in ``shared.framing.model_input`` can be
measured end to end (tests) and sample photos can be made for the demo.
"""

from __future__ import annotations

import cv2
import numpy as np

SAMPLE_SIZE = (320, 240)  # the demo's photos, and the camera photos the fashion recipe renders: a phone's small JPEG


def render_photo(item: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A 28x28 light-on-dark image -> an RGB photo of it printed dark on paper under a lamp to one side."""
    width, height = size
    scale = rng.uniform(5.0, 9.0)
    side = int(28 * scale)
    ink = cv2.resize(item, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    ink = np.clip(ink, 0.0, 1.0)
    margin = 30
    x0 = int(rng.integers(margin, width - side - margin))
    y0 = int(rng.integers(margin, height - side - margin))
    coverage = np.zeros((height, width), dtype=np.float32)
    coverage[y0:y0 + side, x0:x0 + side] = ink

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xs / width - 0.5) + np.sin(angle) * (ys / height - 0.5))
    lighting = rng.uniform(170, 225) * (1.0 + rng.uniform(0.2, 0.45) * ramp)
    paper = lighting * (1.0 - rng.uniform(0.7, 0.85) * coverage)
    tint = rng.uniform(0.9, 1.05, size=3).astype(np.float32)
    photo = paper[..., np.newaxis] * tint + rng.normal(0.0, 3.0, (height, width, 3)).astype(np.float32)
    return np.clip(photo, 0, 255).astype(np.uint8)


def render_on_paper(item: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A 28x28 light-on-dark item written or printed on a sheet, photographed in many of the ways people do.

    Broader than ``render_photo``: plain, ruled or squared paper that may not fill the frame (a table at an
    edge), pen or marker strokes in black, blue or grey, a soft shadow, a slight tilt, focus blur, sensor noise
    and JPEG. It shows the backbone what "an item on paper" looks like, so that the photos a user takes, which
    nobody here has seen, look like some of these.
    """
    from piclassify.trainer.data.scenes import SCENES

    width, height = size
    sheet = paper_sheet(rng, size)
    side = int(min(width, height) * rng.uniform(0.3, 0.8))
    stroke = cv2.resize(item, (side, side), interpolation=cv2.INTER_CUBIC)
    width_change = int(rng.integers(-2, 3)) * max(1, side // 120)  # a finer pen, or a marker
    if width_change:
        kernel = np.ones((abs(width_change) + 1,) * 2, np.uint8)
        stroke = (cv2.dilate if width_change > 0 else cv2.erode)(stroke, kernel)
    ink = np.zeros((height, width), np.float32)
    x0 = int(rng.integers(0, width - side + 1))
    y0 = int(rng.integers(0, height - side + 1))
    ink[y0:y0 + side, x0:x0 + side] = np.clip(stroke.astype(np.float32) / 255.0, 0, 1) * rng.uniform(0.6, 0.95)
    colour = np.array([(25, 25, 30), (20, 40, 140), (70, 70, 75)][int(rng.integers(0, 3))], np.float32)
    photo = sheet * (1 - ink[..., np.newaxis]) + colour * ink[..., np.newaxis]
    if rng.random() < 0.4:  # the table beyond the sheet's edge
        table = SCENES[["wood", "fabric", "tabletop", "carpet"][int(rng.integers(0, 4))]](rng, size).astype(np.float32)
        edge = int(rng.integers(0, 4))
        depth = int(rng.uniform(0.05, 0.2) * (width if edge < 2 else height))
        region = {0: (slice(None), slice(0, depth)), 1: (slice(None), slice(width - depth, width)),
                  2: (slice(0, depth), slice(None)), 3: (slice(height - depth, height), slice(None))}[edge]
        photo[region] = table[region]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    radius = rng.uniform(0.2, 0.6) * width
    shadow = 1 - rng.uniform(0, 0.35) * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius ** 2))
    photo *= shadow[..., np.newaxis]
    tilt = rng.uniform(-0.04, 0.04, (4, 2)) * [width, height]
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    warp = cv2.getPerspectiveTransform(corners, (corners + tilt).astype(np.float32))
    photo = cv2.warpPerspective(photo, warp, size, borderMode=cv2.BORDER_REFLECT)
    blur = rng.uniform(0, 1.5)
    if blur > 0.3:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    photo = np.clip(photo + rng.normal(0, rng.uniform(1, 5), photo.shape), 0, 255).astype(np.uint8)
    return jpeg_round_trip(photo, int(rng.integers(55, 96)))


def jpeg_round_trip(photo: np.ndarray, quality: int) -> np.ndarray:
    """An RGB uint8 photo as it comes back from a JPEG of ``quality``: a phone's compression, blocks and all."""
    encoded = cv2.imencode(".jpg", photo[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def render_drawing(item: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (280, 280)) -> np.ndarray:
    """A 28x28 light-on-dark item drawn with a finger or a mouse on the web view's canvas, or scanned: strokes of
    one width in black or dark blue on a flat white background, and nothing else (no paper, light or lens)."""
    width, height = size
    side = int(min(width, height) * rng.uniform(0.4, 0.85))
    stroke = cv2.resize(item, (side, side), interpolation=cv2.INTER_CUBIC)
    thicker = int(rng.integers(0, 4)) * max(1, side // 60)  # a finger is broader than MNIST's pen
    if thicker:
        stroke = cv2.dilate(stroke, np.ones((thicker + 1,) * 2, np.uint8))
    ink = np.zeros((height, width), np.float32)
    x0 = int(rng.integers(0, width - side + 1))
    y0 = int(rng.integers(0, height - side + 1))
    ink[y0:y0 + side, x0:x0 + side] = np.clip(stroke.astype(np.float32) / 160.0, 0, 1)  # solid cores, soft edges
    colour = np.array([(0, 0, 0), (20, 30, 120)][int(rng.integers(0, 2))], np.float32)
    background = np.float32(rng.uniform(235, 255))
    drawing = background * (1 - ink[..., np.newaxis]) + colour * ink[..., np.newaxis]
    return np.clip(drawing, 0, 255).astype(np.uint8)


def paper_sheet(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A sheet filling the frame, float32 RGB: plain, ruled or squared, white to cream, unevenly lit."""
    from piclassify.trainer.data.scenes import paper

    sheet = paper(rng, size).astype(np.float32)
    lines = int(rng.integers(0, 3))  # plain, ruled, squared
    if lines:
        width, height = size
        spacing = int(rng.uniform(18, 40))
        tint = np.array([(150, 170, 210), (180, 180, 185)][int(rng.integers(0, 2))], np.float32)
        ruled = np.zeros((height, width), bool)
        ruled[int(rng.integers(0, spacing))::spacing, :] = True
        if lines == 2:
            ruled[:, int(rng.integers(0, spacing))::spacing] = True
        strength = rng.uniform(0.25, 0.6)
        sheet[ruled] = sheet[ruled] * (1 - strength) + tint * strength * sheet[ruled] / 255.0
    return sheet
