"""Framing camera photos the way the training images were framed (shared by device and trainer)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from piclassify.shared.contract.reject import Reject
from piclassify.shared.errors import ImageError
from piclassify.shared.framing.framed import Framed, FramingSteps
from piclassify.shared.framing.model_input import frame_for_model, frame_object, frame_rgb, resize_area, thicken
from piclassify.shared.framing.percentile import percentile
from piclassify.trainer.data.photos import render_photo

from tests.helpers.manifests import binary_like, digits_like

# The bundled digits model's settings (device/models/digits.json "reject").
DIGITS_REJECT = Reject(min_contrast=24, min_separation=30, min_size=0.06, border_is_background=True)


def mnist_like_digit() -> np.ndarray:
    """A bright vertical bar, a '1', light on dark as in MNIST."""
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:22, 12:16] = 255
    return digit


def test_object_framing_undoes_polarity_lighting_and_position():
    photo = render_photo(mnist_like_digit(), np.random.default_rng(3))
    assert photo.shape == (480, 640, 3) and photo.mean() > 120  # light paper, dark ink
    framed = frame_object(photo, 28, fill=False).image
    assert framed.shape == (28, 28) and framed.dtype == np.uint8
    ys, xs = np.nonzero(framed > 128)
    assert ys.max() - ys.min() + 1 == pytest.approx(20, abs=1)  # longest side fits the inner 20x20
    assert ys.mean() == pytest.approx(13.5, abs=1) and xs.mean() == pytest.approx(13.5, abs=1)  # centre of mass
    assert framed[0].max() == 0 and framed[:, 0].max() == 0  # background is black


def test_light_objects_on_dark_backgrounds_keep_their_polarity():
    photo = np.zeros((120, 160), dtype=np.uint8)
    photo[40:80, 70:80] = 250
    framed = frame_object(photo, 28, fill=False).image
    assert framed[14, 14] > 200 and framed[2, 2] == 0


def test_fill_framing_lets_the_longest_side_fill_the_frame():
    photo = np.full((120, 160), 200, dtype=np.uint8)
    photo[30:90, 50:110] = 40
    framed = frame_object(photo, 28, fill=True).image
    assert (framed > 128).sum() > 0.8 * 28 * 28


def paper_with(draw, size=(640, 480), seed=0) -> np.ndarray:
    """Unevenly lit, noisy paper with ``draw(canvas)`` applied: dark marks on it."""
    ys, xs = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    paper = 200 + 25 * xs / size[0] + np.random.default_rng(seed).normal(0, 3, (size[1], size[0]))
    draw(paper)
    return np.clip(paper, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("photo, reason", [
    (paper_with(lambda p: None), "no object with enough contrast"),
    (np.random.default_rng(1).integers(60, 200, (480, 640), dtype=np.uint8), "only texture or noise"),
    (paper_with(lambda p: p.__setitem__((slice(235, 245), slice(315, 325)), 40)), "object too small"),
    (paper_with(lambda p: p.__setitem__((slice(None), slice(0, 200)), 60)),
     "nothing but background at the edges of the frame"),  # the table beyond the paper's edge
])
def test_nothing_in_view_says_why(photo, reason):
    assert frame_object(photo, 28, fill=False, reject=DIGITS_REJECT) == Framed(None, reason)


def test_an_object_beside_the_table_edge_is_still_found():
    def digit_and_edge(paper):
        paper[:, :120] = 60  # the table, touching the border
        paper[180:300, 380:400] = 50  # a "1" on the paper
    framed = frame_object(paper_with(digit_and_edge), 28, fill=False, reject=DIGITS_REJECT).image
    ys, xs = np.nonzero(framed > 128)
    assert ys.max() - ys.min() + 1 == pytest.approx(20, abs=1) and xs.max() - xs.min() < 10


def seven_written_with(pen: int) -> np.ndarray:
    """A 7 about 170 px high, written with a pen ``pen`` px wide on a light sheet."""
    photo = np.full((240, 320), 215, np.uint8)
    cv2.polylines(photo, [np.array([[110, 40], [210, 40], [150, 210]])], False, 40, pen, cv2.LINE_AA)
    return photo


def ink(framed: np.ndarray) -> float:
    """How much ink a 28x28 input holds, in full pixels: MNIST's sevens hold 56 to 119 (10th to 90th percentile)."""
    return float(framed.sum()) / 255


@pytest.mark.parametrize("pen", [2, 4])
def test_a_fine_pen_s_strokes_are_as_wide_as_mnist_s_pen_once_framed(pen):
    """Scaled into MNIST's 20 px box, a fine pen on a large digit kept 11 to 18 pixels of ink: a third of MNIST's."""
    assert 55 <= ink(frame_object(seven_written_with(pen), 28, fill=False).image) <= 120


def test_a_marker_s_strokes_are_left_as_they_are():
    """Only strokes thinner than MNIST's pen are thickened; a marker's stay as they are."""
    patch = np.zeros((100, 60), np.uint8)
    patch[10:90, 20:45] = 255  # a stroke a quarter of the object's height wide
    assert np.array_equal(thicken(patch), patch)
    thin = np.zeros((100, 60), np.uint8)
    thin[10:90, 29:31] = 255
    assert ink(thicken(thin)) > 3 * ink(thin)


def test_debug_steps_keep_the_exact_model_input():
    steps = FramingSteps()
    framed = frame_for_model(render_photo(mnist_like_digit(), np.random.default_rng(0)), digits_like(), steps)
    assert set(steps.images) == {"gray", "contrast", "object", "model-input"}
    np.testing.assert_array_equal(steps.images["model-input"], framed.image)


def stripes() -> np.ndarray:
    """A 2:1 photo: red left quarter, green middle half, blue right quarter."""
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[:, :50], image[:, 50:150], image[:, 150:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    return image


@pytest.mark.parametrize("mode, left, top, middle", [
    ("squash", (255, 0, 0), (0, 255, 0), (0, 255, 0)),  # all of it, squeezed: red stays at the left
    ("centre-crop", (0, 255, 0), (0, 255, 0), (0, 255, 0)),  # only the middle square: green everywhere
    ("letterbox", (255, 0, 0), (0, 0, 0), (0, 255, 0)),  # all of it, bars above and below
])
def test_rgb_resize_modes(mode, left, top, middle):
    out = frame_rgb(stripes(), 50, 50, mode)
    assert out.shape == (50, 50, 3)
    assert tuple(out[25, 1]) == left and tuple(out[1, 25]) == top and tuple(out[25, 25]) == middle


def test_centre_crop_keeps_the_middle():
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[:, 50:150] = 255
    assert frame_rgb(image, 50, 50, "centre-crop").min() == 255


def test_rgb_model_input_and_bad_images():
    manifest = binary_like()
    assert frame_for_model(np.zeros((30, 40, 3), np.uint8), manifest).image.shape == (4, 4, 3)
    with pytest.raises(ImageError):
        frame_for_model(np.zeros((30, 40, 3), np.float32), manifest)


def test_resize_area_crops_to_a_whole_multiple_first_without_changing_the_picture():
    photo = render_photo(mnist_like_digit(), np.random.default_rng(4), (644, 484))[:, :, 0]
    fast = resize_area(photo, 160, 120)  # 644x484 is cropped to 640x480 first, then 4:1 exactly
    plain = cv2.resize(photo, (160, 120), interpolation=cv2.INTER_AREA)
    assert fast.shape == (120, 160)
    difference = np.abs(fast.astype(int) - plain.astype(int))
    assert difference.mean() < 3 and np.percentile(difference, 99) < 60  # a sub-pixel shift shows at edges only


def test_resize_area_never_crops_away_more_than_a_sliver():
    """A 280x280 drawing to the framing's 160x160: cropping to 160x160 first would cut 43% of each side."""
    drawing = np.full((280, 280), 255, np.uint8)
    drawing[40:240, 130:150] = 0  # a "1" that does not touch the edges
    small = resize_area(drawing, 160, 160)
    assert small[0].min() == 255 and small[-1].min() == 255 and small.min() == 0


def test_where_the_object_lies_in_the_photo_does_not_change_the_model_input():
    photos = [render_photo(mnist_like_digit(), np.random.default_rng(seed)) for seed in (6, 7)]
    first, second = (frame_for_model(photo, digits_like()).image.astype(int) for photo in photos)
    assert np.abs(first - second).mean() < 8


def test_the_framings_percentile_is_numpys_bit_for_bit_without_importing_numpy_ma():
    """NumPy's own imports numpy.ma on first use (23 ms of a 0.3 s cold start); the framing's gives the same floats."""
    rng = np.random.default_rng(5)
    for n in [1, 2, 3, 10, 99, 100, 101, 1000, 4801]:
        for q in (0, 50, 90, 99, 100, float(rng.random() * 100)):
            levels = rng.integers(0, 256, n).astype(np.uint8)
            assert percentile(levels, q) == float(np.percentile(levels, q)), (n, q)
    code = ("import sys, numpy as np; from piclassify.shared.framing.percentile import percentile; "
            "percentile(np.arange(9, dtype=np.uint8), 90); print('numpy.ma' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
