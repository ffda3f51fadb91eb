"""Scaling and quantization against hand-computed values: the numbers both sides must agree on."""

import numpy as np
import pytest

from piclassify.shared.contract.manifest import Quantization, Scaling
from piclassify.shared.contract.scaling import dequantize, input_lut, quantize, scale_pixels

PIXELS = np.array([0, 1, 128, 255], dtype=np.uint8)


def test_unit_scaling_is_x_over_255():
    np.testing.assert_allclose(scale_pixels(PIXELS, Scaling("unit")), [0.0, 1 / 255, 128 / 255, 1.0], rtol=1e-6)


def test_symmetric_scaling_maps_to_minus_one_one():
    np.testing.assert_allclose(scale_pixels(PIXELS, Scaling("symmetric")), [-1.0, -0.992157, 0.003922, 1.0], atol=1e-6)


def test_minmax_scaling_is_per_feature_and_survives_a_constant_feature():
    scaling = Scaling("minmax", minimum=(0.0, 100.0, 7.0), maximum=(255.0, 200.0, 7.0))
    out = scale_pixels(np.array([[51, 150, 7]], dtype=np.uint8), scaling)
    np.testing.assert_allclose(out, [[0.2, 0.5, 0.0]], rtol=1e-6)


def test_int8_quantization_of_unit_pixels_is_a_shift_by_128():
    q = quantize(scale_pixels(PIXELS, Scaling("unit")), Quantization(1 / 255, -128), "int8")
    assert q.dtype == np.int8
    assert q.tolist() == [-128, -127, 0, 127]


def test_quantize_rounds_and_clips_to_the_dtype_range():
    q = quantize(np.array([-10.0, 0.26, 0.24, 10.0, 200.0]), Quantization(0.5, 10), "uint8")
    # -10/0.5+10 = -10 -> 0 (clipped); 0.26/0.5 = 0.52 -> 1 +10 = 11; 0.48 -> 0 + 10; 30 -> 30; 410 -> 255 (clipped)
    assert q.tolist() == [0, 11, 10, 30, 255]


def test_dequantize_inverts_quantize_and_passes_floats_through():
    quant = Quantization(0.1, 3)
    np.testing.assert_allclose(dequantize(np.array([3, 13, -7], dtype=np.int8), quant), [0.0, 1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(dequantize(np.array([0.25], dtype=np.float32), quant), [0.25])


@pytest.mark.parametrize("mode", ["unit", "symmetric"])
def test_lookup_table_equals_scaling_then_quantizing(mode):
    quant = Quantization(0.0078125, -1)
    lut = input_lut(Scaling(mode), quant, "int8")
    every = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(lut[every], quantize(scale_pixels(every, Scaling(mode)), quant, "int8"))


def test_minmax_has_no_lookup_table_since_it_is_per_feature():
    assert input_lut(Scaling("minmax", (0.0,), (1.0,)), Quantization(), "float32") is None
