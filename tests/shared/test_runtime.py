"""Runtime choice (LiteRT, then tflite-runtime, then tf.lite) and load failures a user can understand."""

import gzip
import importlib.util
import subprocess
import sys
import types

import pytest

from piclassify.device.core.model_files import MODELS_DIR
from piclassify.shared.backbone.extractor import BACKBONE_FILE
from piclassify.shared.classifier import Classifier, ModelLoadError
from piclassify.shared.contract.manifest import load_manifest
from piclassify.shared.inference.interpreter import MAX_MODEL_BYTES, open_interpreter, read_model
from piclassify.shared.inference.runtime import RUNTIMES, NoRuntimeError, Runtime, distribution_version, load_runtime


def fake_interpreter_module(interpreter_class):
    module = types.ModuleType("fake.interpreter")
    module.Interpreter = interpreter_class
    return module


def test_the_first_runtime_installed_in_order_is_chosen():
    """LiteRT on x86 and 64-bit Pis; tflite-runtime where LiteRT has no wheel (a 32-bit Pi)."""
    installed = [distribution for module, distribution in RUNTIMES if importlib.util.find_spec(module.split(".")[0])]
    assert load_runtime().name == installed[0]


def test_tflite_runtime_is_next_then_tensorflow_lite(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    marker = type("TfliteRuntimeInterpreter", (), {})
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake_interpreter_module(marker))
    monkeypatch.setattr(sys.modules["tflite_runtime"], "__version__", "2.14.0", raising=False)
    runtime = load_runtime()
    assert runtime.name == "tflite-runtime" and runtime.interpreter_class is marker and runtime.version == "2.14.0"


def test_the_runtime_names_its_version_without_reading_package_metadata():
    """Each runtime's package says its own ``__version__``; importlib.metadata would cost every cold start 25 ms and
    3 MB of memory, so it is read only for a runtime that does not say."""
    code = ("import sys; from piclassify.shared.inference.runtime import load_runtime; runtime = load_runtime(); "
            "print(runtime.name, runtime.version, 'importlib.metadata' in sys.modules)")
    name, version, metadata_read = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout.split()
    assert version == distribution_version(name) and metadata_read == "False"


def test_no_runtime_at_all_says_what_to_install(monkeypatch):
    for name in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(NoRuntimeError, match="pip install ai-edge-litert"):
        load_runtime()


@pytest.mark.parametrize("machine, bits", [("armv7l", "32bit"), ("aarch64", "32bit")])  # 32-bit OS, 64-bit kernel too
def test_on_32_bit_arm_no_runtime_says_to_install_the_64_bit_os(monkeypatch, machine, bits):
    for name in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr("platform.machine", lambda: machine)
    monkeypatch.setattr("platform.architecture", lambda *args, **kwargs: (bits, "ELF"))
    with pytest.raises(NoRuntimeError, match=r"32-bit ARM system.*install Raspberry Pi OS \(64-bit\)"):
        load_runtime()


def failing_runtime(name, exc):
    def interpreter(**kwargs):
        raise exc

    return Runtime(name, "2.14.0", interpreter)


def test_an_op_version_the_runtime_lacks_names_the_converter_version():
    path = MODELS_DIR / "digits.tflite"
    manifest = load_manifest(path)
    runtime = failing_runtime("tflite-runtime", ValueError(
        "Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'. An older version of this builtin "
        "might be supported. Are you using an old TFLite binary with a newer model?\nRegistration failed."))
    with pytest.raises(ModelLoadError) as error:
        Classifier(path, manifest, runtime)
    message = str(error.value)
    assert "lacks op FULLY_CONNECTED version 12" in message
    assert f"converted by TensorFlow {manifest.versions['tensorflow']}" in message and "\n" not in message


def test_tflite_runtime_under_numpy_2_is_explained(monkeypatch):
    path = MODELS_DIR / "digits.tflite"
    monkeypatch.setattr("piclassify.shared.classifier.np.__version__", "2.1.0")
    runtime = failing_runtime("tflite-runtime", SystemError(
        "<built-in method CreateWrapperFromFile of PyCapsule object> returned a result with an exception set"))
    with pytest.raises(ModelLoadError, match="does not work with NumPy 2.1.0.*numpy<2"):
        Classifier(path, load_manifest(path), runtime)


def test_native_messages_kept_from_the_runtime_stay_one_a_line(capfd):
    """LiteRT writes some messages without a newline; passed back to stderr they must not run together."""
    import os

    from piclassify.shared.native_stderr import native_stderr, not_info

    with native_stderr(keep=not_info):
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"a delegate message without a newline")
    with native_stderr(keep=not_info):
        os.write(2, b"unsupported op")
    assert capfd.readouterr().err == "a delegate message without a newline\nunsupported op\n"


def test_a_gzipped_model_is_inflated_in_memory():
    """The bundled backbone is kept gzipped (under 5 MiB in the checkout); the interpreter gets its bytes."""
    plain, packed = read_model(MODELS_DIR / "digits.tflite"), read_model(MODELS_DIR / BACKBONE_FILE)
    assert packed[4:8] == plain[4:8] == b"TFL3"  # both flatbuffers with the TFLite identifier
    assert (MODELS_DIR / BACKBONE_FILE).stat().st_size < 5 * 2 ** 20 < len(packed)


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[: len(data) // 2], "not a whole gzip file"),
    (lambda data: b"\x1f\x8b" + b"\0" * 40, "not a whole gzip file"),
    (lambda data: gzip.compress(b"\0" * (MAX_MODEL_BYTES + 1)), "inflates to more than 64 MiB"),
])
def test_a_damaged_or_oversized_gzip_is_one_line_naming_the_file(tmp_path, damage, message):
    path = tmp_path / "model.tflite.gz"
    path.write_bytes(damage(gzip.compress((MODELS_DIR / "digits.tflite").read_bytes())))
    with pytest.raises(ModelLoadError, match=message) as error:
        open_interpreter(path, load_runtime(), None, "2.16")
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 2), (4, 4), (8, 4)])
def test_interpreters_use_the_usable_cores_up_to_4_unless_told(monkeypatch, cores, threads):
    """The runtimes' own default is one thread; a Pi 4 or 5 has four cores for the backbone."""
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)))
    asked = []

    def interpreter(model_content, num_threads):
        asked.append(num_threads)

    runtime = Runtime("ai-edge-litert", "2.3.0", interpreter)
    open_interpreter(MODELS_DIR / "digits.tflite", runtime, None, "2.16")
    open_interpreter(MODELS_DIR / "digits.tflite", runtime, 3, "2.16")
    assert asked == [threads, 3]
