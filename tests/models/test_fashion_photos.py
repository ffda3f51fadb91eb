"""The fashion model reads real photos of clothes: ``garment`` framing cuts the garment out of its background.

The bundled model's manifest records its accuracy on the real clothing photos it was not trained on
(clothing-photos/validation, through the device's framing and the int8 model); the dataset test
re-measures it here through the device pipeline. The unit tests draw a garment on a textured floor.
"""

import cv2
import numpy as np
import pytest

from piclassify.device.core.model_files import MODELS_DIR, SAMPLES_DIR
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.contract.manifest import load_manifest
from piclassify.shared.files.imagefile import read_image
from piclassify.shared.framing.framed import FramingSteps
from piclassify.shared.framing.garment import frame_garment, garment_mask, work_size
from piclassify.shared.framing.model_input import frame_for_model
from piclassify.trainer.data.clothing import MAPPED, photo_files
from piclassify.trainer.data.datasets import DATASETS
from piclassify.trainer.data.scenes import render_empty_scene

from conftest import classify_photo, require_dataset

FASHION = load_manifest(MODELS_DIR / "fashion.tflite")
REJECT = DATASETS["fashion"].reject  # what the recipe writes into the manifest


def striped_rug(rng: np.random.Generator, size=(640, 480)) -> np.ndarray:
    """Beige and brown stripes with a woven texture and sensor noise: what a threshold locks onto."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = ((xs + 0.3 * ys) // 24 % 2)[..., np.newaxis]
    colours = stripes * np.array([196, 170, 130], np.float32) + (1 - stripes) * np.array([120, 84, 60], np.float32)
    weave = 10 * np.sin(xs * 1.7)[..., np.newaxis] * np.sin(ys * 1.3)[..., np.newaxis]
    return np.clip(colours + weave + rng.normal(0, 4, (height, width, 3)), 0, 255).astype(np.uint8)


def t_shirt_outline(centre=(300, 250), scale=1.0) -> np.ndarray:
    """A T-shirt's outline (body and short sleeves) as polygon points, 640x480 frame coordinates."""
    shape = np.array([(-60, -110), (-25, -118), (25, -118), (60, -110), (125, -60), (95, -15), (65, -40),
                      (65, 120), (-65, 120), (-65, -40), (-95, -15), (-125, -60)], np.float32)
    return (shape * scale + np.array(centre, np.float32)).astype(np.int32)


def garment_on_rug(seed=0):
    rng = np.random.default_rng(seed)
    photo = striped_rug(rng)
    drawn = np.zeros(photo.shape[:2], np.uint8)
    cv2.fillPoly(drawn, [t_shirt_outline()], 255)
    shirt = np.array([40, 70, 150], np.float32) + rng.normal(0, 5, photo.shape)  # a blue shirt, some texture
    photo = np.where(drawn[..., np.newaxis] > 0, np.clip(shirt, 0, 255), photo).astype(np.uint8)
    return photo, drawn > 0


def test_garment_mask_finds_a_garment_on_a_striped_rug():
    photo, drawn = garment_on_rug()
    width, height = work_size(640, 480)
    small = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    truth = cv2.resize(drawn.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    mask = garment_mask(small)
    overlap = (mask & truth).sum() / (mask | truth).sum()
    assert overlap > 0.85, f"mask overlaps the drawn garment by {overlap:.2f} (intersection over union)"


def test_the_framed_garment_is_centred_fills_the_frame_and_is_light_on_black():
    photo, _ = garment_on_rug()
    framed = frame_garment(photo, 28, REJECT)
    assert framed.reason is None and framed.image.shape == (28, 28) and framed.image.dtype == np.uint8
    ys, xs = np.nonzero(framed.image > 20)
    assert max(np.ptp(xs), np.ptp(ys)) + 1 >= 27  # the longest side fills the frame, as in Fashion-MNIST
    assert abs((xs.min() + xs.max()) / 2 - 13.5) <= 1.5 and abs((ys.min() + ys.max()) / 2 - 13.5) <= 1.5
    assert framed.image[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0  # corners are background: black
    garment = framed.image[ys, xs]
    assert garment.mean() > 120  # a dark blue shirt becomes light, as Fashion-MNIST negated its product photos


def test_frame_for_model_keeps_the_garment_steps_for_the_debug_dir():
    photo, _ = garment_on_rug(seed=3)
    steps = FramingSteps()
    framed = frame_for_model(photo, FASHION, steps)
    assert framed.image is not None and set(steps.images) >= {"small", "mask", "garment", "model-input"}
    assert np.array_equal(steps.images["model-input"], framed.image)


@pytest.mark.parametrize("kind", ["wood", "carpet", "paper", "wall", "fabric"])
def test_an_empty_floor_or_wall_is_nothing_in_view(kind):
    for seed in range(3):
        framed = frame_garment(render_empty_scene(kind, np.random.default_rng(seed)), 28, REJECT)
        assert framed.image is None and framed.reason, f"{kind} #{seed} framed as a garment"


def test_the_fashion_manifest_asks_for_garment_framing_and_records_real_photo_accuracy():
    assert FASHION.resize == "garment" and FASHION.colour == "gray" and FASHION.height == 28
    real = FASHION.metrics["real_photos"]
    assert set(real["classes"]) == set(MAPPED)
    assert real["exact_accuracy"] >= 0.80
    assert FASHION.metrics["tflite_accuracy"] >= 0.93  # and Fashion-MNIST itself is still read as well


def test_the_demo_samples_of_clothes_are_garments_and_mostly_named_right():
    """The first validation photo of each exact class, whatever the model says of it (the t-shirt, a cropped top on
    a hanger, it calls a pullover): each is a garment, and most are named right."""
    pipeline = Pipeline.load("fashion")
    samples = sorted(SAMPLES_DIR.glob("fashion-*.jpg"))
    assert len(samples) == 4
    answers = {path.stem.split("-", 2)[2]: classify_photo(pipeline, read_image(path)).label for path in samples}
    assert all(label is not None for label in answers.values()), answers
    assert sum(_slug(label) == expected for expected, label in answers.items()) >= 3, answers


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in label.lower()).strip("-")


@pytest.mark.dataset
def test_real_photo_accuracy_is_what_the_manifest_says():
    """Every validation photo of the mapped classes through the device pipeline: the manifest's counts, exactly."""
    root = require_dataset("clothing-photos")
    require_dataset("clothing-photos", "validation")
    pipeline = Pipeline.load("fashion")
    recorded = FASHION.metrics["real_photos"]["classes"]
    right = dict.fromkeys(MAPPED, 0)
    photos = dict.fromkeys(MAPPED, 0)
    for path, folder in photo_files(root, "validation"):
        result = classify_photo(pipeline, read_image(path))
        photos[folder] += 1
        right[folder] += result.label == MAPPED[folder][0]
    for folder in MAPPED:
        assert (right[folder], photos[folder]) == (recorded[folder]["right"], recorded[folder]["photos"]), folder
    exact = [folder for folder, (_, match) in MAPPED.items() if match == "exact"]
    accuracy = sum(right[f] for f in exact) / sum(photos[f] for f in exact)
    assert accuracy == pytest.approx(FASHION.metrics["real_photos"]["exact_accuracy"], abs=1e-5)
    assert accuracy >= 0.80


def test_the_recipe_finds_real_photos_beside_the_idx_files_and_frames_each_several_times(tmp_path):
    from PIL import Image

    from piclassify.trainer.data.clothing import VARIANTS, find_photos, frame_training_photos

    root = tmp_path / "datasets" / "clothing-photos"
    for n, folder in enumerate(MAPPED):
        (root / "train" / folder).mkdir(parents=True)
        photo, _ = garment_on_rug(seed=n)
        Image.fromarray(photo).save(root / "train" / folder / f"{n}.jpg")
    (root / "train" / "t-shirt" / "notes.txt").write_text("not a photo")
    assert find_photos(None, tmp_path / "datasets") == root
    labels = DATASETS["fashion"].labels
    framed = frame_training_photos(root, labels, log=lambda line: None)
    assert framed.photos == len(MAPPED) and framed.images.shape == (len(MAPPED) * VARIANTS - framed.unframed, 28, 28)
    assert set(framed.labels) == {labels.index(label) for label, _ in MAPPED.values()}


def test_an_explicit_photos_folder_without_train_is_an_error(tmp_path):
    from piclassify.shared.errors import DatasetError
    from piclassify.trainer.data.clothing import find_photos

    with pytest.raises(DatasetError, match="train/<class>"):
        find_photos(tmp_path, None)


def test_rendered_training_items_are_the_same_on_one_core_and_on_two(monkeypatch):
    """The recipe frames thousands of photos on every core; each item has its own seed, so the cores do not matter."""
    from piclassify.trainer.data import parallel
    from piclassify.trainer.data.clothing import rendered_items

    items = np.zeros((40, 28, 28), np.uint8)
    for n, item in enumerate(items):
        item[4:24, 6 + n % 5:20 + n % 3] = 200  # a block garment, each a little different
    labels = np.arange(40) % 10
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    on_two = rendered_items(items, labels, count=32, seed=5)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    on_one = rendered_items(items, labels, count=32, seed=5)
    assert len(on_one[0]) >= 30
    np.testing.assert_array_equal(on_two[0], on_one[0])
    np.testing.assert_array_equal(on_two[1], on_one[1])


@pytest.mark.parametrize("width, height", [(60, 97), (61, 171), (63, 467), (237, 231)])
def test_a_garment_reaching_the_far_edges_of_any_photo_size_is_framed(width, height):
    """The box scaled back to the photo must not end a pixel past its edge (float rounding: 60 * (237 / 60) > 237)."""
    photo = np.full((height, width, 3), 200, np.uint8)
    photo[height // 3:, width // 3:] = (40, 70, 150)  # a garment in the bottom-right corner, up to both edges
    small_w, small_h = work_size(width, height)
    mask = np.zeros((small_h, small_w), bool)
    mask[small_h // 3:, small_w // 3:] = True
    from piclassify.shared.framing.garment import garment_patch

    patch = garment_patch(photo, cv2.resize(photo, (small_w, small_h), interpolation=cv2.INTER_AREA), mask)
    assert patch.dtype == np.uint8 and patch.max() > 100
