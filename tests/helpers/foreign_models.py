"""Models in exactly the formats other tools export, made here with TensorFlow, and photos to feed them.

- Teachable Machine: a MobileNet (224x224x3, trained on ``x / 127.5 - 1``) ending in softmax, exported float
  (``model_unquant.tflite``) and quantized (``model.tflite``, uint8 in and out: older exports took 0..1, so their
  input is quantized 1/255 and 0; newer ones -1..1, 2/255 and 127), ``labels.txt`` as ``0 Name`` lines, zipped as
  its download is;
- the workshop's cats vs dogs: a 150x150x3 CNN ending in one sigmoid, ``{'cats': 0, 'dogs': 1}``;
- Model Maker: a model with TFLite metadata (per-channel mean and std, a labels file attached in a zip at its
  end), written with TensorFlow's own flatbuffer schema and the ``flatbuffers`` builder as tflite-support does.

The weights are random, but each model also reads a coarse grid of the photo's colours through strong weights,
so that its answers change from photo to photo and with the crop, the scaling or the channel order: a
preprocessing that differs from the tool's shows at once.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

TM_LABELS = ("Red", "Green", "Blue")
PET_LABELS = {"cats": 0, "dogs": 1}


def _grid_head(keras, inputs, features, classes: int, activation: str, seed: int, centre: float = 0.0):
    """A Dense layer over the network's ``features`` and a 4x4 grid of the input's mean colours (weighted strongly),
    its bias set so that a grid of ``centre`` (mid-grey, as the model scales it) is undecided."""
    side = inputs.shape[1] // 4
    grid = keras.layers.Flatten()(keras.layers.AveragePooling2D(side)(inputs))
    joined = keras.layers.Concatenate()([features, grid])
    dense = keras.layers.Dense(classes, activation=activation)
    output = dense(joined)
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0, 0.05, (joined.shape[-1], classes))
    kernel[-grid.shape[-1]:] = rng.normal(0, 3.0, (grid.shape[-1], classes))
    bias = -centre * kernel[-grid.shape[-1]:].sum(axis=0)
    return output, dense, [kernel.astype("float32"), bias.astype("float32")]


def teachable_machine_keras(zero_to_one_input: bool = False, seed: int = 3):
    """Teachable Machine's image model: MobileNet at 224 with a softmax over three classes. With
    ``zero_to_one_input`` it takes 0..1 and scales to -1..1 itself (so its quantized input is 1/255 and 0)."""
    import keras

    keras.utils.set_random_seed(seed)
    raw = keras.Input((224, 224, 3))
    inputs = keras.layers.Rescaling(2.0, offset=-1.0)(raw) if zero_to_one_input else raw
    base = keras.applications.MobileNet(input_shape=(224, 224, 3), alpha=0.25, weights=None, include_top=False,
                                        pooling="avg")
    output, dense, weights = _grid_head(keras, inputs, base(inputs), len(TM_LABELS), "softmax", seed)
    model = keras.Model(raw, output)
    dense.set_weights(weights)
    return model


def to_tflite(model, low: float = -1.0, high: float = 1.0, quantized: bool = False) -> bytes:
    """float32, or full-integer with uint8 input and output calibrated on random inputs from ``low`` to ``high``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantized:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image] for image in _blocky(model.input_shape[1:], low, high))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return converter.convert()


def _blocky(shape: tuple[int, ...], low: float, high: float, count: int = 8) -> list[np.ndarray]:
    """Calibration images of blocks of colour spanning ``low`` to ``high``: like photos, every average over a region
    spans the range too (noise would average to a narrow range, which the input, sharing its pooling's
    quantization, would then take)."""
    rng = np.random.default_rng(0)
    height, width, channels = shape
    images = []
    for _ in range(count):
        blocks = rng.uniform(low, high, (1, 4, 4, channels))
        blocks[0, 0, 0], blocks[0, 3, 3] = low, high  # the range's ends, as photos have black and white
        images.append(np.repeat(np.repeat(blocks, -(-height // 4), axis=1), -(-width // 4), axis=2)[:, :height, :width]
                      .astype("float32"))
    return images


def teachable_machine_zip(path: Path, model_name: str, data: bytes) -> Path:
    """The download as Teachable Machine zips it: the model and ``labels.txt`` (``0 Red`` ...)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(model_name, data)
        archive.writestr("labels.txt", "".join(f"{n} {name}\n" for n, name in enumerate(TM_LABELS)))
    return path


def workshop_cats_dogs(seed: int = 5) -> bytes:
    """The notebook's cats vs dogs: two convolutions at 150x150, one sigmoid; ``ImageDataGenerator(rescale=1/255)``."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((150, 150, 3))
    x = keras.layers.MaxPooling2D(2)(keras.layers.Conv2D(16, 3, activation="relu")(inputs))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(32, 3, activation="relu")(x))
    output, dense, weights = _grid_head(keras, inputs, x, 1, "sigmoid", seed, centre=0.5)
    model = keras.Model(inputs, output)
    dense.set_weights(weights)
    return to_tflite(model)


def model_maker_keras(classes: int = 4, seed: int = 7):
    """A small float classifier at 128x128 (Model Maker's are larger; the format is the same)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((128, 128, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs))
    output, dense, weights = _grid_head(keras, inputs, x, classes, "softmax", seed)
    model = keras.Model(inputs, output)
    dense.set_weights(weights)
    return model


def with_metadata(model: bytes, mean: tuple[float, ...], std: tuple[float, ...], labels: tuple[str, ...]) -> bytes:
    """``model`` with TFLite metadata as Model Maker writes it: an RGB image input normalized by ``mean``/``std``,
    an output whose TENSOR_AXIS_LABELS file ``labels.txt`` is attached in a zip appended to the model."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    metadata = _metadata_flatbuffer(mean, std)
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(metadata, np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(tree.buffers) - 1
    tree.metadata = (tree.metadata or []) + [entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    attached = io.BytesIO()
    with zipfile.ZipFile(attached, "w") as archive:
        archive.writestr("labels.txt", "".join(f"{name}\n" for name in labels))
    return bytes(builder.Output()) + attached.getvalue()


def _metadata_flatbuffer(mean: tuple[float, ...], std: tuple[float, ...]) -> bytes:
    """ModelMetadata (metadata_schema.fbs, identifier M001) with one subgraph: the input's ImageProperties (RGB)
    and NormalizationOptions, the output's labels file. Field n of a table is slot n of its builder."""
    import flatbuffers

    b = flatbuffers.Builder(256)

    def floats(values):
        b.StartVector(4, len(values), 4)
        for value in reversed(values):
            b.PrependFloat32(value)
        return b.EndVector()

    def table_vector(tables):
        b.StartVector(4, len(tables), 4)
        for table in reversed(tables):
            b.PrependUOffsetTRelative(table)
        return b.EndVector()

    mean_vector, std_vector = floats(mean), floats(std)
    b.StartObject(2)  # NormalizationOptions: mean, std
    b.PrependUOffsetTRelativeSlot(0, mean_vector, 0)
    b.PrependUOffsetTRelativeSlot(1, std_vector, 0)
    normalization = b.EndObject()
    b.StartObject(2)  # ProcessUnit: options_type, options
    b.PrependUint8Slot(0, 1, 0)  # NormalizationOptions
    b.PrependUOffsetTRelativeSlot(1, normalization, 0)
    unit = b.EndObject()
    b.StartObject(2)  # ImageProperties: color_space, default_size
    b.PrependInt8Slot(0, 1, 0)  # RGB
    image = b.EndObject()
    b.StartObject(3)  # Content: content_properties_type, content_properties, range
    b.PrependUint8Slot(0, 2, 0)  # ImageProperties
    b.PrependUOffsetTRelativeSlot(1, image, 0)
    content = b.EndObject()
    units = table_vector([unit])
    image_name = b.CreateString("image")
    b.StartObject(7)  # TensorMetadata
    b.PrependUOffsetTRelativeSlot(0, image_name, 0)
    b.PrependUOffsetTRelativeSlot(3, content, 0)
    b.PrependUOffsetTRelativeSlot(4, units, 0)
    input_tensor = b.EndObject()
    file_name = b.CreateString("labels.txt")
    b.StartObject(4)  # AssociatedFile: name, description, type, locale
    b.PrependUOffsetTRelativeSlot(0, file_name, 0)
    b.PrependInt8Slot(2, 2, 0)  # TENSOR_AXIS_LABELS
    labels_file = b.EndObject()
    files = table_vector([labels_file])
    probability_name = b.CreateString("probability")
    b.StartObject(7)
    b.PrependUOffsetTRelativeSlot(0, probability_name, 0)
    b.PrependUOffsetTRelativeSlot(6, files, 0)
    output_tensor = b.EndObject()
    inputs, outputs = table_vector([input_tensor]), table_vector([output_tensor])
    b.StartObject(7)  # SubGraphMetadata
    b.PrependUOffsetTRelativeSlot(2, inputs, 0)
    b.PrependUOffsetTRelativeSlot(3, outputs, 0)
    subgraph = b.EndObject()
    subgraphs = table_vector([subgraph])
    model_name = b.CreateString("made like Model Maker")
    b.StartObject(8)  # ModelMetadata
    b.PrependUOffsetTRelativeSlot(0, model_name, 0)
    b.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
    b.Finish(b.EndObject(), file_identifier=b"M001")
    return bytes(b.Output())


def varied_photos(folder: Path, count: int = 24, seed: int = 0) -> list[Path]:
    """Photos of blocks of colour on gradients, of many sizes and both orientations (JPEG, as cameras save)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for number in range(count):
        width, height = (int(v) for v in rng.choice([(640, 480), (500, 375), (375, 500), (1024, 683), (300, 300),
                                                      (800, 450), (1200, 400), (400, 1000)]))
        ys, xs = np.mgrid[0:height, 0:width] / max(width, height)
        photo = np.stack([rng.uniform(40, 200) + rng.uniform(-60, 60) * xs + rng.uniform(-60, 60) * ys
                          for _ in range(3)], axis=-1)
        for _ in range(int(rng.integers(2, 6))):  # blocks near the edges too: a crop shows them, or not
            x0, y0 = int(rng.integers(0, width - 20)), int(rng.integers(0, height - 20))
            photo[y0:y0 + int(rng.integers(20, height)), x0:x0 + int(rng.integers(20, width))] = rng.uniform(0, 255, 3)
        photo += rng.normal(0, 6, photo.shape)
        path = folder / f"photo-{number:02d}.jpg"
        Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths
