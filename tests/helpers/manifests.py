"""Builders for manifests used across tests (a plain module, imported by the tests that need it)."""

from __future__ import annotations

from dataclasses import replace

from piclassify.shared.contract.manifest import Manifest, Quantization, Scaling, TensorSpec


def digits_like(**changes) -> Manifest:
    """A manifest shaped like the bundled digits model: 28x28x1 int8 in, 10 int8 logits out."""
    manifest = Manifest(
        name="digits", task="multiclass", labels=tuple(str(d) for d in range(10)),
        height=28, width=28, channels=1, colour="gray", polarity="light-on-dark", scaling=Scaling("unit"),
        resize="object", input=TensorSpec((28, 28, 1), "int8", Quantization(1 / 255, -128)),
        output=TensorSpec((10,), "int8", Quantization(0.1, 3)), model_file="digits.tflite", sha256="0" * 64,
    )
    return replace(manifest, **changes)


def binary_like(**changes) -> Manifest:
    """A cats-vs-dogs shaped manifest: RGB input, one logit out, sigmoid with a threshold."""
    manifest = digits_like(
        name="pets", task="binary", labels=("cats", "dogs"), height=4, width=4, channels=3, colour="rgb",
        polarity="any", resize="centre-crop", scaling=Scaling("symmetric"),
        input=TensorSpec((4, 4, 3), "int8", Quantization(2 / 255, 0)),
        output=TensorSpec((1,), "int8", Quantization(0.05, 0)), threshold=0.5,
    )
    return replace(manifest, **changes)


def head_like(**changes) -> Manifest:
    """A photo model that is all head, shaped like the bundled catsdogs: the backbone's view in, two labels out."""
    from piclassify.shared.contract.manifest import Backbone, Head
    from piclassify.shared.contract.reject import Reject

    backbone = Backbone(model_file="efficientnet-lite0.tflite.gz", sha256="1" * 64, size=192,
                        input=TensorSpec((224, 224, 3), "int8", Quantization(1 / 128, -1)),
                        features=TensorSpec((1280,), "int8", Quantization(0.02, -128)),
                        logits=TensorSpec((1000,), "int8", Quantization(0.08, -50)))
    manifest = digits_like(
        name="pets", labels=("cats", "dogs"), height=192, width=192, channels=3, colour="rgb", polarity="any",
        scaling=Scaling("centred"), resize="centre-crop", input=TensorSpec((1280,), "float32"),
        output=TensorSpec((2,), "float32"), model_file="pets.npz", sha256="2" * 64,
        reject=Reject(min_similarity=0.4), backbone=backbone,
        head=Head(file="pets.npz", sha256="2" * 64, classifies=True, neighbours=10))
    return replace(manifest, **changes)
