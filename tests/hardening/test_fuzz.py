"""Bounded fuzzing: mutated images, models and manifests through the entry points a user calls.

Every case must end in a result or a clean ``PiclassifyError`` with a one-line message; any other
exception, a message with a newline, or a case that runs past its time guard fails the test and
names the case. The corpus comes from a fixed seed, so a failing case can be replayed with
``mutate(case_rng(kind, number), data)``. Models are fuzzed in a child process: a runtime
crash in native code (SIGSEGV) then fails the test with the case that caused it, instead of
killing pytest.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from piclassify.device.commands.cli import main
from piclassify.device.core.frames import Frame
from piclassify.device.core.model_files import MODELS_DIR, SAMPLES_DIR
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.classifier import Classifier
from piclassify.shared.contract.files_beside import sha256_of
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.imagefile import read_image

from conftest import REPO, copy_model, framing_only
from tests.helpers.guard import guard

# Pillow warns about many corrupt files (the CLI silences PIL's warnings); here they would only be noise.
pytestmark = [pytest.mark.filterwarnings("ignore:::PIL"), pytest.mark.fuzz]

SEED = 20240610
IMAGES_PER_FORMAT = 400
PIPELINE_EVERY = 8  # every 8th readable mutated image also goes through a whole pipeline, backbone and all
MODELS = 300
MANIFESTS = 300
FUZZ_MAX_PIXELS = "1000000"  # garbage that decodes to a full 16 MP frame is slow, not more interesting
EXTREMES = (0, 1, 2, 255, 0x7FFF, 0x8000, 0xFFFF, 30000, 0x7FFFFFFF, 0xFFFFFFFF)


def case_rng(kind: str, number: int) -> random.Random:
    """The random source of one case, the same on every run and machine (a str seed is hashed with SHA-512)."""
    return random.Random(f"{SEED}:{kind}:{number}")


def mutate(rng: random.Random, data: bytes, header: int = 64) -> bytes:
    """One to three of: bit flips, truncation, a duplicated chunk, an extreme 16/32-bit header field, odd bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(5)
        if kind == 0:
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del out[rng.randrange(1, max(2, len(out))):]
        elif kind == 2:
            at, size = rng.randrange(len(out)), rng.randint(1, 256)
            out[at:at] = out[at:at + size]
        elif kind == 3:
            width = rng.choice((2, 4))
            at = rng.randrange(max(1, min(len(out), header) - width))
            value = rng.choice(EXTREMES) & ((1 << 8 * width) - 1)
            out[at:at + width] = value.to_bytes(width, rng.choice(("big", "little")))
        else:
            out[rng.randrange(len(out))] = rng.choice((0x00, 0xFF, 0x7F, 0x80))
        if not out:
            out = bytearray(data[:1])
    return bytes(out)


def outcome(run: Callable[[], object]) -> str:
    """"ok", or the class name of the PiclassifyError the case ended in; anything else is raised as a failure."""
    try:
        with guard():
            run()
    except PiclassifyError as error:
        assert "\n" not in str(error) and str(error), f"not a one-line message: {error!r}"
        return type(error).__name__
    return "ok"


# -- images ---------------------------------------------------------------------------------------

def seed_images() -> dict[str, bytes]:
    """A small photo-like scene (a dark stroke on uneven light) in every format Pillow reads for us."""
    y, x = np.mgrid[0:48, 0:64]
    gray = (170 + 40 * x / 64 - 30 * y / 48).astype(np.uint8)
    gray[12:36, 28:34] = 20
    rgb = np.stack([gray, gray // 2 + 60, 255 - gray], axis=-1)
    image = Image.fromarray(rgb)
    formats = {
        "jpg": dict(format="JPEG", quality=80),
        "progressive.jpg": dict(format="JPEG", quality=80, progressive=True),
        "png": dict(format="PNG"),
        "palette.png": dict(format="PNG"),
        "gif": dict(format="GIF"),
        "tif": dict(format="TIFF", compression="tiff_lzw"),
        "webp": dict(format="WEBP", quality=80),
        "bmp": dict(format="BMP"),
    }
    seeds = {}
    for name, options in formats.items():
        buffer = io.BytesIO()
        (image.convert("P") if name in ("palette.png", "gif") else image).save(buffer, **options)
        seeds[name] = buffer.getvalue()
    return seeds


@pytest.fixture(scope="module")
def pipelines() -> list[Pipeline]:
    return [Pipeline.load("digits"), Pipeline.load("catsdogs")]


def test_mutated_images_give_a_result_or_one_line_through_read_image_and_the_pipeline(tmp_path, pipelines,
                                                                                    monkeypatch):
    """Every case through the decoders (``read_image``), where a mutation does its damage; every 8th image that
    decodes also through a whole pipeline (whatever pixels it holds, the models must answer): the backbone costs
    a second per frame under emulation, so the decoders get the 3,200 cases and the pipelines about 90."""
    monkeypatch.setenv("PICLASSIFY_MAX_PIXELS", FUZZ_MAX_PIXELS)
    counts: dict[str, int] = {}
    classified = 0
    for name, data in seed_images().items():
        for number in range(IMAGES_PER_FORMAT):
            path = tmp_path / f"{number}.{name}"  # a new file each time: cheaper than truncating one
            path.write_bytes(mutate(case_rng(name, number), data))
            pipeline = pipelines[(number // PIPELINE_EVERY) % len(pipelines)]
            decoded: list = []

            def run() -> None:
                decoded.append(read_image(path))
                if number % PIPELINE_EVERY == 0:
                    pipeline.classify(Frame(decoded[0], 0.0, number, str(path)))

            try:
                result = outcome(run)
            except Exception as error:
                pytest.fail(f"{name} case {number}: {type(error).__name__}: {error}")
            counts[result] = counts.get(result, 0) + 1
            classified += bool(decoded) and number % PIPELINE_EVERY == 0
    assert sum(counts.values()) == len(seed_images()) * IMAGES_PER_FORMAT
    assert counts.get("ok") and counts.get("ImageError"), counts  # the corpus exercises both ways out
    assert set(counts) <= {"ok", "ImageError"}, counts
    assert classified >= 80  # with both models (digits and catsdogs) in turn


def test_mutated_images_through_the_real_cli_exit_2_with_one_line_per_bad_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PICLASSIFY_MAX_PIXELS", FUZZ_MAX_PIXELS)
    paths = []
    for name, data in seed_images().items():
        for number in range(3):
            path = tmp_path / f"case{number}.{name}"
            path.write_bytes(mutate(case_rng("cli-" + name, number), data))
            paths.append(path)
    with guard():
        code = main(["predict", "--model", "digits", *map(str, paths)])
    out, err = capsys.readouterr()
    errors = err.splitlines()
    assert all(line.startswith("piclassify: error: ") for line in errors), err
    assert len(errors) + len(out.splitlines()) == len(paths)
    assert sorted(line.split(": ")[2] for line in errors) == sorted(
        str(path) for path in paths if str(path) not in out), "every bad file is named once"
    assert code == (2 if errors else 0)


# -- manifests ------------------------------------------------------------------------------------

WRONG_VALUES = (None, "", "x", -1, 0, 1.5, 1e308, float("nan"), float("inf"), [], [1, "a"], {}, {"a": 1}, True,
                "é" * 300, 2 ** 70)


def field_paths(value, prefix=()) -> list[tuple]:
    """Every place in a JSON value: dict keys and list indices, recursively."""
    paths = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        paths.append(prefix + (key,))
        paths += field_paths(item, prefix + (key,))
    return paths


def mutate_manifest(rng: random.Random, manifest: dict) -> bytes:
    """Either a JSON-aware change (a wrong value, a field removed or added) or bytes mutated as text."""
    if rng.random() < 0.3:
        return mutate(rng, json.dumps(manifest, indent=2).encode(), header=400)
    data = json.loads(json.dumps(manifest))
    path = rng.choice(field_paths(data))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    action = rng.randrange(4)
    if action == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == 1 and isinstance(parent, dict):
        parent["extra_" + str(path[-1])] = 1
    else:
        parent[path[-1]] = rng.choice(WRONG_VALUES)
    return json.dumps(data).encode()


@pytest.fixture
def model_copy(tmp_path) -> Path:
    return copy_model("digits", tmp_path)  # with its head and the backbone: their fields are mutated too


def test_mutated_manifests_load_or_give_one_line_and_a_loaded_model_classifies(model_copy):
    manifest = json.loads((MODELS_DIR / "digits.json").read_text())
    photo = read_image(SAMPLES_DIR / "digits-1-7.jpg")
    counts: dict[str, int] = {}
    for number in range(MANIFESTS):
        model_copy.with_suffix(".json").write_bytes(mutate_manifest(case_rng("manifest", number),
                                                                    manifest))

        def run() -> None:
            Pipeline(Classifier.load(model_copy)).classify(Frame(photo, 0.0, number, "photo"))

        try:
            result = outcome(run)
        except Exception as error:
            pytest.fail(f"manifest case {number}: {type(error).__name__}: {error}")
        counts[result] = counts.get(result, 0) + 1
    assert counts.get("ok") and counts.get("ManifestError"), counts
    assert set(counts) <= {"ok", "ManifestError"}, counts


def test_piclassify_info_on_mutated_manifests_is_the_contract_or_one_line(model_copy, capsys):
    manifest = json.loads((MODELS_DIR / "digits.json").read_text())
    for number in range(10):
        model_copy.with_suffix(".json").write_bytes(mutate_manifest(case_rng("info", number),
                                                                    manifest))
        with guard():
            code = main(["info", str(model_copy)])
        out, err = capsys.readouterr()
        if code == 0:
            assert "sha256:" in out and err == ""
        else:
            assert code == 2 and err.startswith(f"piclassify: error: {model_copy.with_suffix('.json')}: ")
            assert err.count("\n") == 1, err


# -- models (in a child process: a native crash must not take pytest down) -----------------------

def fuzz_models(folder: str, count: int) -> None:
    """Load ``count`` mutated copies of digits.tflite, each with a manifest naming its sha256; print each outcome.

    Run in a child by the test below; "case N" is printed before each load, so a crash names its case.
    """
    manifest = framing_only(json.loads((MODELS_DIR / "digits.json").read_text()))  # its own file is mutated here
    original = (MODELS_DIR / "digits.tflite").read_bytes()
    path = Path(folder) / "digits.tflite"
    for number in range(count):
        rng = case_rng("model", number)
        data = mutate(rng, original, header=4096) if rng.random() < 0.8 else mutate(rng, original, len(original))
        path.write_bytes(data)
        path.with_suffix(".json").write_text(json.dumps({**manifest, "sha256": sha256_of(path)}))
        print(f"case {number}", flush=True)
        try:
            print(f"outcome {number} {outcome(lambda: Classifier.load(path))}", flush=True)
        except Exception as error:
            print(f"escaped {number} {type(error).__name__}: {error}", flush=True)


def test_mutated_models_load_or_give_one_line_and_never_crash_the_process(tmp_path):
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests', sys.argv[4]]; import test_fuzz; "
            "test_fuzz.fuzz_models(sys.argv[2], int(sys.argv[3]))")
    here = str(Path(__file__).parent)
    done = subprocess.run([sys.executable, "-c", code, str(REPO), str(tmp_path), str(MODELS), here],
                          capture_output=True, text=True, timeout=300)
    lines = done.stdout.splitlines()
    last_case = next((line for line in reversed(lines) if line.startswith("case ")), "no case started")
    assert done.returncode == 0, f"the child died ({done.returncode}) during {last_case}: {done.stderr[-2000:]}"
    escaped = [line for line in lines if line.startswith("escaped ")]
    assert not escaped, escaped
    outcomes = [line.split()[2] for line in lines if line.startswith("outcome ")]
    assert len(outcomes) == MODELS
    # ManifestError: a mutation changed a tensor's shape or quantization, which the manifest then contradicts
    assert set(outcomes) <= {"ok", "ModelLoadError", "ManifestError"}, sorted(set(outcomes))
    assert "ModelLoadError" in outcomes and "ok" in outcomes
    assert "Traceback" not in done.stderr and "INFO:" not in done.stderr, done.stderr[-2000:]
