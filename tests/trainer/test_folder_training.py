"""Training a CNN from scratch on photo folders (``--arch photo-cnn``), on a tiny folder dataset of drawn shapes.

The default, a head on the ImageNet backbone, is in test_head_training.py.
"""

import json

import cv2
import numpy as np
import pytest

from piclassify.device.core.frames import Frame
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.classifier import Classifier
from piclassify.shared.files.photo_folders import load_folder_dataset
from piclassify.shared.framing.model_input import frame_rgb
from piclassify.trainer.cli import main as train_main

from tests.helpers.shapes import draw, write_shapes

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def shapes_model(tmp_path_factory):
    root = write_shapes(tmp_path_factory.mktemp("shapes"))
    negatives = tmp_path_factory.mktemp("negatives")
    rng = np.random.default_rng(5)
    for i in range(10):
        cv2.imwrite(str(negatives / f"line{i}.png"), draw("lines", rng))
    out = tmp_path_factory.mktemp("models")
    assert train_main(["folder", str(root), "--name", "shapes", "--arch", "photo-cnn", "--size", "32", "--epochs", "1",
                       "--negatives", str(negatives), "--out", str(out)]) == 0
    return out / "shapes.tflite"


def test_the_classes_are_the_sorted_folder_names_plus_a_background_class_for_nothing_in_view(shapes_model):
    manifest = Classifier.load(shapes_model).manifest
    assert manifest.task == "multiclass" and manifest.labels == ("circles", "squares", "nothing")
    assert manifest.reject.background_label == "nothing" and manifest.output.shape == (3,)
    assert manifest.colour == "rgb" and manifest.resize == "centre-crop" and manifest.input.dtype == "int8"
    assert manifest.mirror_average  # trained on mirror images too, so the device averages both


def test_unreadable_files_are_skipped_and_counted_not_fatal(shapes_model):
    training = json.loads(shapes_model.with_suffix(".json").read_text())["training"]
    assert training["skipped_files"] == 2
    assert training["train_images"] == 32 + 2 + 8, "32 shapes, 2 empty scenes and the 8 negatives not held out"
    assert training["images_per_epoch"] == 32 + 8, "an epoch: the shapes, and a quarter as many background photos"


def test_validation_accuracy_and_nothing_in_view_rates_are_recorded_and_reports_written(shapes_model):
    metrics = json.loads(shapes_model.with_suffix(".json").read_text())["metrics"]
    assert metrics["test_images"] == 12 and "validation" in metrics["test_set"]
    rates = metrics["nothing_in_view"]
    assert rates["empty_scenes"] == 400 and rates["objects"] == 12 and rates["negatives"] == 1 + 2  # 20% held out: 1 of 6 scenes, 2 of 10 negatives
    assert all(0 <= rates[key] <= 1 for key in ("empty_scenes_rate", "objects_rate", "negatives_rate"))
    assert (shapes_model.parent / "reports" / "shapes-mistakes.png").is_file()


def test_the_device_answers_a_photo_as_the_trainer_measured_it(shapes_model):
    """The device frames a camera frame exactly as the trainer framed its photos."""
    photo = draw("circles", np.random.default_rng(9))
    classifier = Classifier.load(shapes_model)
    framed = frame_rgb(photo, 32, 32, classifier.manifest.resize)  # as shared.files.photo_folders.decode_photo does
    expected = classifier.probabilities(framed[np.newaxis])[0]
    result = Pipeline.load(str(shapes_model)).classify(Frame(photo, 0.0, 0, "circle.png"))
    winner = classifier.manifest.labels[int(expected.argmax())]
    assert result.label == (None if winner == "nothing" else winner)
    if result.prediction is not None:
        np.testing.assert_allclose(result.prediction.probabilities, expected)


def test_a_class_called_nothing_is_refused(tmp_path, capsys):
    root = write_shapes(tmp_path / "shapes", classes=("nothing", "squares"), per_class=(2, 1))
    assert train_main(["folder", str(root), "--name", "x", "--arch", "photo-cnn", "--out", str(tmp_path)]) == 2
    assert "may not be called 'nothing'" in capsys.readouterr().err


def test_three_classes_are_found_in_sorted_order(tmp_path):
    root = write_shapes(tmp_path, classes=("squares", "lines", "circles"), per_class=(2, 1))
    data = load_folder_dataset(root, 32, 32, "centre-crop", log=lambda line: None)
    assert data.classes == ("circles", "lines", "squares")
    assert data.train.images.shape == (6, 32, 32, 3) and data.validation.labels.tolist() == [0, 1, 2]


def test_the_background_threshold_is_calibrated_from_the_held_out_negatives(shapes_model):
    manifest = Classifier.load(shapes_model).manifest
    assert 0.5 <= manifest.reject.background_threshold <= 0.95


def test_each_epoch_draws_its_share_of_the_negatives_afresh():
    """A large pool of negatives is learned from a few at a time: an epoch keeps its length, and the
    epochs between them see most of the pool."""
    from piclassify.trainer.network.training import Draw, TrainConfig, training_batches

    photos, pool_size, per_epoch = 40, 200, 10
    images = np.zeros((photos, 4, 4, 3), np.uint8)
    labels = np.eye(3, dtype=np.float32)[np.arange(photos) % 2]
    pool = np.arange(1, pool_size + 1, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    batches, steps = training_batches(images, labels, [Draw(pool, 2, per_epoch)], 3, TrainConfig(batch_size=10))
    assert steps == (photos + per_epoch) // 10
    drawn_per_epoch, seen = [], set()
    batch_iterator = iter(batches)
    for _ in range(20):
        drawn = [(int(image[0, 0, 0]), label.argmax()) for _ in range(steps)
                 for image, label in zip(*(part.numpy() for part in next(batch_iterator))) if image[0, 0, 0]]
        assert all(label == 2 for _, label in drawn), "a negative is labelled as the background class"
        drawn_per_epoch.append(len(drawn))
        seen.update(value for value, _ in drawn)
    assert 0.7 * per_epoch <= np.mean(drawn_per_epoch) <= 1.3 * per_epoch
    assert len(seen) > pool_size / 2, "the pool is drawn afresh, not the same few every epoch"


def test_object_photos_borrow_an_edge_strip_of_a_background_photo():
    """A cat beside a jumper is still a cat: object photos get a strip of a background photo along one
    edge, and background photos stay as they are."""
    import tensorflow as tf

    from piclassify.trainer.network.training import paste_context

    objects, backgrounds = 32, 32
    images = np.concatenate([np.ones((objects, 20, 20, 3), np.float32), np.zeros((backgrounds, 20, 20, 3), np.float32)])
    labels = np.eye(3, dtype=np.float32)[[0, 1] * (objects // 2) + [2] * backgrounds]
    tf.random.set_seed(3)
    pasted = paste_context(tf.constant(images), tf.constant(labels), 2).numpy()
    assert (pasted[objects:] == 0).all(), "background photos are unchanged"
    own = pasted[:objects].mean(axis=(1, 2, 3))
    assert (own >= 0.55).all() and (own < 1).sum() >= objects // 4, "a strip of at most 40%, on a share of the photos"
    for photo in pasted[:objects][own < 1]:
        borrowed = photo[..., 0] == 0
        rows, cols = borrowed.any(axis=1), borrowed.any(axis=0)
        assert rows.all() or cols.all(), "the strip runs along a whole edge"
        assert (borrowed[rows][:, cols]).all(), "and is one rectangle"
