"""The head on the backbone (shared/backbone/head.py): how a frame is judged "in view", how classes are fitted, the file."""

import io

import numpy as np
import pytest

from piclassify.shared.backbone.head import (
    MAX_BANK,
    build_head,
    calibrate_min_similarity,
    dequantize_bank,
    fit_linear,
    nearest_similarity,
    neighbours_for,
    normalise,
    quantize_bank,
)
from piclassify.shared.backbone.head_file import load_head
from piclassify.shared.errors import ManifestError

RNG = np.random.default_rng(0)


def cluster(centre: np.ndarray, count: int, spread: float = 0.3) -> np.ndarray:
    """``count`` logit vectors around ``centre``: photos of one kind of thing, as the backbone sees them."""
    return centre + spread * RNG.normal(size=(count, centre.size))


def test_similarity_is_the_mean_cosine_to_the_nearest_photos():
    bank = normalise(np.array([[1.0, 0, 0], [0, 1.0, 0], [0.6, 0.8, 0]]))
    query = normalise(np.array([[1.0, 0, 0]]))
    assert nearest_similarity(bank, query, 1)[0] == pytest.approx(1.0)
    assert nearest_similarity(bank, query, 2)[0] == pytest.approx((1.0 + 0.6) / 2)
    # left out in turn: each photo is compared with the others only
    np.testing.assert_allclose(nearest_similarity(bank, bank, 1, exclude_self=True), [0.6, 0.8, 0.8])


def test_the_threshold_lets_through_the_model_s_own_kind_and_stops_another_kind():
    """Calibrated on the photos alone (each left out in turn): no negatives needed."""
    own, other = RNG.normal(size=1000), RNG.normal(size=1000)
    bank = dequantize_bank(quantize_bank(cluster(own, 300)))
    neighbours = neighbours_for(len(bank))
    threshold = calibrate_min_similarity(bank, neighbours)
    new_own = nearest_similarity(bank, normalise(cluster(own, 200)), neighbours)
    new_other = nearest_similarity(bank, normalise(cluster(other, 200)), neighbours)
    assert np.mean(new_own < threshold) <= 0.05  # about 1% of the model's own photos fall below, by design
    assert np.all(new_other < threshold)


def test_the_bank_is_int8_and_a_cosine_survives_it():
    logits = RNG.normal(size=(50, 1000)) * 3
    bank = quantize_bank(logits)
    assert bank.dtype == np.int8 and np.abs(bank).max() <= 127
    exact = normalise(logits) @ normalise(logits).T
    np.testing.assert_allclose(dequantize_bank(bank) @ dequantize_bank(bank).T, exact, atol=0.02)


@pytest.mark.parametrize("photos, neighbours", [(2, 1), (40, 2), (200, 10), (4000, 10)])
def test_a_few_photos_are_compared_with_fewer_neighbours(photos, neighbours):
    assert neighbours_for(photos) == neighbours


def test_the_linear_head_separates_classes_and_counts_each_class_alike():
    centres = RNG.normal(size=(3, 64))
    counts = (200, 20, 20)  # one class ten times as common: balanced weights keep the small ones
    features = np.concatenate([c + 0.8 * RNG.normal(size=(n, 64)) for c, n in zip(centres, counts)])
    labels = np.repeat(np.arange(3), counts)
    fit = fit_linear(features, labels, 3)
    test = np.concatenate([c + 0.8 * RNG.normal(size=(50, 64)) for c in centres])
    predicted = (test @ fit.weights + fit.bias).argmax(axis=1)
    for label in range(3):
        assert np.mean(predicted[label * 50:(label + 1) * 50] == label) >= 0.9
    assert 0.8 <= fit.cross_validated_accuracy <= 1.0 and fit.l2 in (1e-3, 1e-2, 1e-1)
    assert fit.weights.dtype == np.float32 and fit.weights.shape == (64, 3)


def test_jittered_copies_of_a_photo_stay_on_one_side_of_the_cross_validation():
    """Copies of one photo judged by a head that learnt from its other copies would flatter the accuracy."""
    photos = RNG.normal(size=(30, 16))
    labels = RNG.integers(0, 2, 30)  # labels that mean nothing: nothing to learn
    copies = np.repeat(photos, 5, axis=0) + 0.01 * RNG.normal(size=(150, 16))
    grouped = fit_linear(copies, np.repeat(labels, 5), 2, groups=np.repeat(np.arange(30), 5))
    ungrouped = fit_linear(copies, np.repeat(labels, 5), 2)
    assert grouped.cross_validated_accuracy < 0.75 < ungrouped.cross_validated_accuracy


def test_a_head_file_round_trips_and_only_plain_arrays_load(tmp_path):
    fitted = build_head(RNG.normal(size=(30, 1000)), RNG.normal(size=(60, 1280)), RNG.integers(0, 2, 60), 2)
    path = tmp_path / "pets.npz"
    path.write_bytes(fitted.data)
    head = load_head(path, 1280, 1000, 2)
    assert head.bank.shape == (30, 1000) and head.weights.shape == (1280, 2) and head.bias.shape == (2,)
    assert load_head(path, 1280, 1000, None).weights is None  # a head that only judges "in view"
    with pytest.raises(ManifestError, match="weights"):
        load_head(path, 1280, 1000, 3)


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("data, message", [
    (b"not a zip at all", "not a readable head file"),
    (_npz(bank=np.zeros((3, 1000), np.float32)), "must be int8 rows"),
    (_npz(bank=np.zeros((3, 999), np.int8)), "must be int8 rows"),
    (_npz(bank=np.zeros((MAX_BANK + 1, 1000), np.int8)), "more than"),
    (_npz(bank=np.ones((3, 1000), np.int8), weights=np.full((1280, 2), np.nan, np.float32),
          bias=np.zeros(2, np.float32)), "not all finite"),
    (_npz(bank=np.ones((3, 1000), np.int8), weights=np.array([object()] * 4, dtype=object)), "not plain numbers"),
])
def test_a_bad_head_file_is_one_line_naming_it(tmp_path, data, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(data)
    with pytest.raises(ManifestError, match=message) as error:
        load_head(path, 1280, 1000, 2)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_the_loaded_bank_is_its_rows_normalised_and_laid_out_for_the_frame_product():
    bank = quantize_bank(np.random.default_rng(3).standard_normal((50, 1000)))
    rows = dequantize_bank(bank)
    np.testing.assert_allclose(rows, normalise(bank.astype(np.float32)), rtol=1e-6, atol=1e-7)
    assert rows.shape == (50, 1000) and rows.T.flags["C_CONTIGUOUS"]  # logits @ rows.T reads it in order
