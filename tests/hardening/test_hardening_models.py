"""Models and manifests as untrusted input: every manifest field checked at load with one line naming
it, and a runtime that fails (or would crash) on a model turned into one ``ModelLoadError`` line.
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from piclassify.device.commands.cli import main
from piclassify.device.core.model_files import MODELS_DIR, SAMPLES_DIR, bundled_model_paths
from piclassify.shared.classifier import Classifier, ModelLoadError
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.contract.manifest import load_manifest
from piclassify.shared.errors import ManifestError
from piclassify.shared.inference.runtime import Runtime

from tests.conftest import copy_model


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """digits.tflite and its manifest (and its head and backbone), copied where a test may change them."""
    return copy_model("digits", tmp_path)


def edit_manifest(model: Path, edit) -> None:
    data = json.loads(model.with_suffix(".json").read_text())
    edit(data)
    model.with_suffix(".json").write_text(json.dumps(data))


def set_field(path: str, value):
    """An edit setting ``a.b.c`` to ``value``."""
    def edit(data: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        data[last] = value
    return edit


# -- every field's type and range -----------------------------------------------------------------

@pytest.mark.parametrize("edit, message", [
    (set_field("threshold", None), "threshold must be a finite number, got None"),
    (set_field("threshold", "0.5"), "threshold must be a finite number, got '0.5'"),
    (set_field("threshold", 1.5), "threshold must be from 0 to 1, got 1.5"),
    (set_field("input", []), "input must be a JSON object, got []"),
    (set_field("input.shape", "28x28"), "input.shape must be a list, got '28x28'"),
    (set_field("input.shape", [28, 28, 0]), "input.shape[2] must be from 1 to 65536, got 0"),
    (set_field("input.quantization.scale", math.nan), "input.quantization.scale must be a finite number, got nan"),
    (set_field("input.quantization.zero_point", 0.5), "input.quantization.zero_point must be a whole number"),
    (set_field("output.dtype", 8), "output.dtype must be a string, got 8"),
    (set_field("scaling", {"mode": "minmax"}), "scaling.minimum and scaling.maximum must be lists of the same"),
    (set_field("scaling", {"mode": "minmax", "minimum": [0, 0], "maximum": [1, 1]}),
     "scaling.minimum must have 1 value(s) for 1 channel(s), not 2"),
    (set_field("scaling", {"mode": "minmax", "minimum": [9], "maximum": [1]}),
     "scaling.maximum[0] (1) is below scaling.minimum[0] (9)"),
    (set_field("metrics", 3), "metrics must be a JSON object, got 3"),
    (set_field("metrics.tflite_accuracy", "99%"), "metrics.tflite_accuracy must be a number from 0 to 1"),
    (set_field("metrics.per_class", [0.9, 0.8]), "metrics.per_class must be a number, a string, or a table"),
    (set_field("versions", ["2.21"]), "versions must be a JSON object"),
    (set_field("versions.tensorflow", 2.21), "versions.tensorflow must be a string, got 2.21"),
    (set_field("labels", list(range(10))), "labels[0] must be a string, got 0"),
    (set_field("labels", ["a"] * 10), "labels must be distinct labels"),
    (set_field("height", True), "height must be a whole number, got True"),
    (set_field("height", 10 ** 6), "height must be from 1 to 8192"),
    (set_field("name", " "), "name must be a non-empty string"),
    (set_field("sha256", "abc"), "sha256 must be 64 lowercase hex digits"),
    (set_field("reject", {"min_score": 2}), "reject.min_score must be from 0 to 1, got 2"),
    (set_field("schema_version", "1"), "schema_version '1' is not supported"),
    (set_field("surprise", 1), "unknown field 'surprise'"),
    (lambda data: data.pop("input"), "missing field 'input'"),
])
def test_a_manifest_field_of_the_wrong_type_or_range_is_one_line_naming_it(model_copy, edit, message):
    edit_manifest(model_copy, edit)
    with pytest.raises(ManifestError) as caught:
        load_manifest(model_copy)
    assert str(caught.value).startswith(f"{model_copy.with_suffix('.json')}: ")
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000, "not valid JSON (maximum recursion depth exceeded"),
    ('{"n": ' + "9" * 5000 + "}", "not valid JSON (Exceeds the limit"),
    ("[1, 2]", "digits.json: expected a JSON object"),
    ("\udcff", "not valid JSON ("),
])
def test_a_manifest_that_is_not_a_json_object_is_one_line(model_copy, text, message):
    model_copy.with_suffix(".json").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ManifestError) as caught:
        load_manifest(model_copy)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_info_on_a_manifest_with_odd_metrics_and_versions_is_one_line_not_a_crash(model_copy, capsys):
    edit_manifest(model_copy, set_field("metrics", {"tflite_accuracy": "high"}))
    assert main(["info", str(model_copy)]) == 2
    assert capsys.readouterr().err == (f"piclassify: error: {model_copy.with_suffix('.json')}: "
                                       "metrics.tflite_accuracy must be a number from 0 to 1, got 'high'\n")


def test_every_bundled_manifest_passes_the_checks():
    models = bundled_model_paths()
    assert {model.suffix for model in models} == {".tflite", ".npz"}  # 28x28 and table models, and catsdogs' head
    for model in models:
        assert load_manifest(model).name == model.stem


# -- the runtime's failures ---------------------------------------------------------------------------

class FailingInterpreter:
    """Opens any file; fails at ``fails_at`` ("allocate_tensors" or "invoke") as LiteRT does, with a long message."""

    fails_at = "allocate_tensors"
    message = ("unsupported zero-point value (-16777216) in channel 60 of INT8 tensor 9 in XNNPACK delegate\nNode number 8 "
               "(TfLiteXNNPackDelegate) failed to prepare.")
    manifest_path = MODELS_DIR / "digits.json"

    def __init__(self, model_content: bytes, num_threads=None) -> None:
        manifest = json.loads(self.manifest_path.read_text())
        self._details = [
            [{"index": 0, "shape": np.array([1, *manifest[role]["shape"]]), "dtype": np.int8,
              "quantization": (manifest[role]["quantization"]["scale"], manifest[role]["quantization"]["zero_point"])}]
            for role in ("input", "output")]

    def allocate_tensors(self) -> None:
        if self.fails_at == "allocate_tensors":
            raise RuntimeError(self.message)

    def get_input_details(self):
        return self._details[0]

    def get_output_details(self):
        return self._details[1]

    def set_tensor(self, index, value) -> None:
        pass

    def invoke(self) -> None:
        if self.fails_at == "invoke":
            raise RuntimeError("Input tensor 9 lacks data")

    def get_tensor(self, index):
        return np.full((1, 10), np.nan if self.fails_at == "output" else 0.0, np.float32)


@pytest.mark.parametrize("fails_at, message", [
    ("allocate_tensors", "cannot allocate its tensors (unsupported zero-point value (-16777216) in channel 60"),
    ("invoke", "cannot run it (Input tensor 9 lacks data)"),
    ("output", "cannot run it (its output on an input of zeros is not all finite numbers)"),
])
def test_a_model_the_runtime_cannot_allocate_or_run_is_one_line_at_load(monkeypatch, fails_at, message):
    monkeypatch.setattr(FailingInterpreter, "fails_at", fails_at)
    path = MODELS_DIR / "digits.tflite"
    with pytest.raises(ModelLoadError) as caught:
        Classifier(path, load_manifest(path), Runtime("ai-edge-litert", "2.3.0", FailingInterpreter))
    assert str(caught.value).startswith(f"{path}: ai-edge-litert 2.3.0 {message}")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_the_runtime_s_messages_that_run_together_read_as_separate_sentences(monkeypatch):
    """LiteRT appends its messages to one another without a space: 7 of 150 mutated models said "...delegateunsupported"."""
    monkeypatch.setattr(FailingInterpreter, "message", "unsupported zero-point value (127) in channel 54 of INT8 tensor 9 "
                        "in XNNPACK delegateunsupported datatype (INT8) of tensor 9 in XNNPACK delegatefailed to create "
                        "XNNPACK Value for tensor 9Node number 8 (TfLiteXNNPackDelegate) failed to prepare.")
    path = MODELS_DIR / "digits.tflite"
    with pytest.raises(ModelLoadError) as caught:
        Classifier(path, load_manifest(path), Runtime("ai-edge-litert", "2.3.0", FailingInterpreter))
    assert ("(unsupported zero-point value (127) in channel 54 of INT8 tensor 9 in XNNPACK delegate. unsupported "
            "datatype (INT8) of tensor 9 in XNNPACK delegate. failed to") in str(caught.value)
    assert "\n" not in str(caught.value)


def without_subgraphs(data: bytes) -> bytes:
    """The model with its root table's ``subgraphs`` slot zeroed: one changed byte pair hides every subgraph."""
    root = struct.unpack_from("<I", data, 0)[0]
    vtable = root - struct.unpack_from("<i", data, root)[0]
    out = bytearray(data)
    struct.pack_into("<H", out, vtable + 8, 0)  # Model.subgraphs is field 2: vtable offset 4 + 2 * 2
    return bytes(out)


def test_a_model_whose_signature_names_a_missing_subgraph_is_refused_not_a_crash(model_copy):
    """LiteRT 2.3 dies of SIGSEGV building this model; the check before it keeps the process alive."""
    model_copy.write_bytes(without_subgraphs(model_copy.read_bytes()))
    edit_manifest(model_copy, set_field("sha256", sha256_of(model_copy)))
    done = subprocess.run([sys.executable, "-m", "piclassify.device.commands.cli", "info", str(model_copy)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr}"  # -11 would be the crash
    assert done.stderr == f"piclassify: error: {model_copy}: not a model {runtime_in_use()} can open " \
                          "(it has no subgraph)\n"


def runtime_in_use() -> str:
    """"ai-edge-litert 2.3.0", or whichever runtime this venv has (tflite-runtime in scripts/test-arm64)."""
    from piclassify.shared.inference.runtime import load_runtime

    runtime = load_runtime()
    return f"{runtime.name} {runtime.version}"


# -- a head whose answers would not be numbers ---------------------------------------------------------

def test_a_head_with_huge_finite_weights_is_refused_at_load_not_answered_with_nan(tmp_path, capsys):
    """catsdogs' head with its weights made 1e36: each finite, but a frame's logits overflow float32 and its
    probabilities were NaN in ``predict --json``."""
    import io

    model = copy_model("catsdogs", tmp_path)
    with np.load(model) as head:
        arrays = {name: head[name] for name in head.files}
    arrays["weights"] = np.full_like(arrays["weights"], 1e36)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    model.write_bytes(buffer.getvalue())
    edit_manifest(model, lambda data: data.update(sha256=sha256_of(model), head={**data["head"],
                                                                                 "sha256": sha256_of(model)}))
    photo = SAMPLES_DIR / "catsdogs-1-cat.jpg"
    assert main(["predict", "--model", str(model), str(photo), "--json"]) == 2
    captured = capsys.readouterr()
    assert "NaN" not in captured.out and captured.err.count("\n") == 1
    assert "its outputs would not be finite numbers" in captured.err
