"""Framing camera photos the way the training images were framed (shared by device and trainer)."""

import numpy as np
import pytest

from piclassify.shared.errors import ImageError
from piclassify.shared.framing import FramingSteps, frame_for_model, frame_object, frame_rgb, resize_area
from tests.manifests import binary_like, digits_like
from piclassify.trainer.photos import render_photo


def mnist_like_digit() -> np.ndarray:
    """A bright vertical bar, a '1', light on dark as in MNIST."""
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:22, 12:16] = 255
    return digit


def test_object_framing_undoes_polarity_lighting_and_position():
    photo = render_photo(mnist_like_digit(), np.random.default_rng(3))
    assert photo.shape == (480, 640, 3) and photo.mean() > 120  # light paper, dark ink
    framed = frame_object(photo, 28, fill=False)
    assert framed.shape == (28, 28) and framed.dtype == np.uint8
    ys, xs = np.nonzero(framed > 128)
    assert ys.max() - ys.min() + 1 == pytest.approx(20, abs=1)  # longest side fits the inner 20x20
    assert ys.mean() == pytest.approx(13.5, abs=1) and xs.mean() == pytest.approx(13.5, abs=1)  # centre of mass
    assert framed[0].max() == 0 and framed[:, 0].max() == 0  # background is black


def test_light_objects_on_dark_backgrounds_keep_their_polarity():
    photo = np.zeros((120, 160), dtype=np.uint8)
    photo[40:80, 70:80] = 250
    framed = frame_object(photo, 28, fill=False)
    assert framed[14, 14] > 200 and framed[2, 2] == 0


def test_fill_framing_lets_the_longest_side_fill_the_frame():
    photo = np.full((120, 160), 200, dtype=np.uint8)
    photo[30:90, 50:110] = 40
    framed = frame_object(photo, 28, fill=True)
    assert (framed > 128).sum() > 0.8 * 28 * 28


def test_an_empty_frame_gives_an_empty_input():
    assert frame_object(np.full((48, 64, 3), 180, np.uint8), 28, fill=False).max() == 0


def test_debug_steps_keep_the_exact_model_input():
    steps = FramingSteps()
    framed = frame_for_model(render_photo(mnist_like_digit(), np.random.default_rng(0)), digits_like(), steps)
    assert set(steps.images) == {"gray", "contrast", "object", "model-input"}
    np.testing.assert_array_equal(steps.images["model-input"], framed)


@pytest.mark.parametrize("mode, expected_left", [("squash", 0), ("centre-crop", 0), ("letterbox", 0)])
def test_rgb_resize_modes(mode, expected_left):
    image = np.full((100, 200, 3), 255, dtype=np.uint8)
    out = frame_rgb(image, 50, 50, mode)
    assert out.shape == (50, 50, 3)
    if mode == "letterbox":  # 2:1 photo in a square: black bars above and below
        assert out[0, 25].max() == 0 and out[25, 25].min() == 255
    else:
        assert out.min() == 255


def test_centre_crop_keeps_the_middle():
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[:, 50:150] = 255
    assert frame_rgb(image, 50, 50, "centre-crop").min() == 255


def test_rgb_model_input_and_bad_images():
    manifest = binary_like()
    assert frame_for_model(np.zeros((30, 40, 3), np.uint8), manifest).shape == (4, 4, 3)
    with pytest.raises(ImageError):
        frame_for_model(np.zeros((30, 40, 3), np.float32), manifest)


def test_resize_area_crops_to_a_whole_multiple_first_without_changing_the_picture():
    image = np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8)
    fast = resize_area(image, 28, 28)
    assert fast.shape == (28, 28)
    assert abs(float(fast.mean()) - float(image.mean())) < 2


def test_framing_is_deterministic():
    photo = render_photo(mnist_like_digit(), np.random.default_rng(5))
    np.testing.assert_array_equal(frame_for_model(photo, digits_like()), frame_for_model(photo.copy(), digits_like()))
