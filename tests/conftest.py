"""Shared fixtures and helpers: where the real datasets are, real results and frames, waiting, mock pins."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from time import monotonic, sleep
from typing import Callable, Optional, Sequence

import numpy as np
import pytest

from piclassify.device.core.frames import Frame
from piclassify.shared.contract.result import Result
from piclassify.shared.contract.tensors import Prediction

os.environ["PICLASSIFY_OFFLINE"] = "1"  # tests never download data or weights

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = Path(os.environ.get("PICLASSIFY_DATA", REPO.parent / "shared" / "datasets"))

# The slow suites (setup.cfg names each marker): a plain `scripts/test` skips them, so that a newcomer's run takes
# minutes; `--full`, CI=true, a -m expression or tests named on the command line run them.
SLOW_SUITES = {
    "training": "trains real models",
    "browser": "drives headless Chromium",
    "broker": "takes an MQTT broker away and back",
    "fuzz": "mutates files by the thousand",
    "remeasure": "re-measures a bundled model on hundreds of scenes",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true",
                     help=f"also run the slow suites ({', '.join(SLOW_SUITES)}), as CI=true does")


def pytest_configure(config: pytest.Config) -> None:
    for name, what in SLOW_SUITES.items():
        if name != "training":  # setup.cfg declares it, with dataset
            config.addinivalue_line("markers", f"{name}: {what} (slow: scripts/test --full runs it)")


def runs_every_suite(config: pytest.Config) -> bool:
    """Whether this run takes the slow suites too: asked for (--full, CI=true, -m), or tests named one by one."""
    source = getattr(config, "args_source", None)  # pytest 7.2 and later: ARGS when paths or test ids were given
    named = source is not None and source.name == "ARGS"
    return config.getoption("--full") or os.environ.get("CI") == "true" or bool(config.option.markexpr) or named


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if runs_every_suite(config):
        return
    for item in items:
        slow = [name for name in SLOW_SUITES if item.get_closest_marker(name)]
        if slow:
            item.add_marker(pytest.mark.skip(reason=f"slow suite {slow[0]}: {SLOW_SUITES[slow[0]]}"))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """The skipped tests counted by reason, at the very end, with how to run them."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return
    terminalreporter.write_sep("-", f"{sum(reasons.values())} skipped, by reason")
    for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0])):
        terminalreporter.write_line(f"{count:5}  {reason}")
    if any(reason.startswith("slow suite ") for reason in reasons):
        terminalreporter.write_line("       (scripts/test --full runs the slow suites, as CI does; README: The tests)")


def require_dataset(*parts: str) -> Path:
    """The dataset folder under ../shared/datasets; skip on a user's clone without it, fail under CI=true."""
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        message = f"{path} not found (the team's real datasets live in ../shared/datasets)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return require_dataset("mnist")


@pytest.fixture(scope="session")
def fashion_dir() -> Path:
    return require_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def mnist_test(mnist_dir: Path):
    """(images, labels) of the real MNIST test set."""
    from piclassify.trainer.data.idx import read_idx

    return read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz"), read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")


# -- helpers shared by the device tests (import them: ``from conftest import make_result``) ---------

def make_result(label: Optional[str] = "7", score: float = 0.9, *, labels: Sequence[str] = (), model: str = "digits",
                source: str = "test", frame: int = 0, time: float = 1_700_000_000.0, latency_ms: float = 1.5,
                reason: str = "no object with enough contrast") -> Result:
    """A real ``Result``: ``label`` wins with ``score``, the rest shared by ``labels``; ``None`` is nothing in view."""
    if label is None:
        return Result(model, source, frame, time, None, reason, latency_ms)
    labels = tuple(labels) or (label, "other")
    rest = (1.0 - score) / max(len(labels) - 1, 1)
    probabilities = np.array([score if name == label else rest for name in labels])
    prediction = Prediction(label, labels.index(label), score, probabilities, labels)
    return Result(model, source, frame, time, prediction, None, latency_ms)


def make_frame(index: int = 0, shape: tuple[int, ...] = (48, 64, 3), time: float = 1_700_000_000.0) -> Frame:
    """A plain RGB frame, captured ``index`` seconds after ``time``."""
    return Frame(np.full(shape, index * 20 % 256, np.uint8), time + index, index, "test")


def classify_photo(pipeline, image: np.ndarray) -> Result:
    """A photo already in memory, through the device pipeline as a frame of its own."""
    return pipeline.classify(Frame(image, 0.0, 0, "photo"))


def tensorflow_loaded_by(args: Sequence[str]) -> list[str]:
    """Run ``piclassify ARGS`` in a fresh process (it must succeed); the TensorFlow/Keras modules it imported."""
    code = ("import sys; from piclassify.device.commands.cli import main; rc = main(sys.argv[1:]); "
            "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))); "
            "sys.exit(rc)")
    completed = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    return ast.literal_eval(completed.stdout.rsplit("LOADED ", 1)[1])


def copy_model(name: str, folder: Path) -> Path:
    """A bundled model copied into ``folder`` with everything beside it that it needs (manifest, head, backbone);
    returns the copy's model file, for tests that change or break it."""
    import shutil

    from piclassify.device.core.model_files import resolve_model
    from piclassify.shared.backbone.extractor import description_path
    from piclassify.shared.contract.manifest import load_manifest

    model = resolve_model(name)
    manifest = load_manifest(model)
    files = [model, model.with_suffix(".json")]
    if manifest.backbone is not None:
        backbone = model.parent / manifest.backbone.model_file
        files += [model.parent / manifest.head.file, backbone, description_path(backbone)]
    for path in files:
        shutil.copy(path, Path(folder) / path.name)
    return Path(folder) / model.name


def without_backbone(name: str, folder: Path) -> Path:
    """A copy of a bundled 28x28 model that decides "nothing in view" in its framing alone (no backbone, no head):
    for tests of what surrounds the model (web view, sinks), whose frames must come fast even on an emulated Pi,
    where the backbone takes half a second a frame."""
    import json

    model = copy_model(name, folder)
    manifest = json.loads(model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps(framing_only(manifest)))
    return model


def framing_only(manifest: dict) -> dict:
    """A parsed manifest without its backbone and head sections, and without the settings that use them."""
    for section in ("backbone", "head"):
        manifest.pop(section, None)
    for setting in ("min_similarity", "floor_similarity", "sure_score", "min_class_mass", "sure_class_mass"):
        manifest["reject"].pop(setting, None)
    return manifest


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; return whether it holds."""
    deadline = monotonic() + timeout
    while not condition() and monotonic() < deadline:
        sleep(0.005)
    return condition()


@pytest.fixture
def mock_pins():
    """gpiozero's own MockFactory for the test's duration; ``mock_pins(17)`` is the mock pin GPIO17."""
    gpiozero = pytest.importorskip("gpiozero")
    from gpiozero.pins.mock import MockFactory

    previous = gpiozero.Device.pin_factory
    factory = MockFactory()
    gpiozero.Device.pin_factory = factory
    yield factory.pin
    factory.reset()
    gpiozero.Device.pin_factory = previous


@pytest.fixture
def denied(monkeypatch):
    """``denied(folder)``: a folder its user may not list or search (``tests/helpers/denied.py``), for the test."""
    from tests.helpers.denied import deny

    folders: list[Path] = []

    def deny_folder(folder: Path) -> Path:
        folders.append(folder)
        deny(monkeypatch, folder)
        return folder

    yield deny_folder
    monkeypatch.undo()
    for folder in folders:
        folder.chmod(0o755)
