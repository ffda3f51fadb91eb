"""Find a TFLite interpreter: ``ai_edge_litert``, then ``tflite_runtime``, then ``tensorflow.lite``.

Imports happen only when ``load_interpreter_class`` is called, so importing this module costs
nothing and never pulls in TensorFlow. The device and the trainer's verification share it.
"""

from __future__ import annotations

import importlib
import os
import platform
from dataclasses import dataclass
from typing import Any, Callable, Optional

# (module that holds Interpreter, distribution whose version we report)
RUNTIMES: tuple[tuple[str, str], ...] = (
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite", "tensorflow"),
)
RUNTIME_NAMES = tuple(name for _, name in RUNTIMES)  # what ``--runtime`` accepts, in the order they are tried


class NoRuntimeError(ImportError):
    """None of the TFLite runtimes is installed."""


@dataclass(frozen=True)
class Runtime:
    """The interpreter class in use and where it came from."""

    name: str
    version: str
    interpreter_class: Callable[..., Any]


MAX_DEFAULT_THREADS = 4  # a Pi 4 or 5 has 4 cores; beyond 4 an EfficientNet-Lite0 gains little and starves the rest


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a systemd CPUAffinity=), else all."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_threads() -> int:
    """Interpreter threads when none are asked for: every usable core, at most ``MAX_DEFAULT_THREADS``.

    The runtimes' own default is one thread, half or a quarter of what a Pi can do for the backbone.
    """
    return min(MAX_DEFAULT_THREADS, usable_cores())


def runtime_version(module_name: str, distribution: str) -> str:
    """The runtime's version: its package's ``__version__`` (each runtime sets it), else the distribution's, else
    "unknown". ``importlib.metadata`` costs a cold start 25 ms and 3 MB, so it is only the fallback."""
    declared = getattr(importlib.import_module(module_name.split(".")[0]), "__version__", None)
    return declared if isinstance(declared, str) and declared else distribution_version(distribution)


def distribution_version(distribution: str) -> str:
    """The installed version of a distribution, or "unknown"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def load_runtime(preferred: Optional[str] = None) -> Runtime:
    """The first importable runtime in ``RUNTIMES`` order, or the one named by ``preferred``."""
    candidates = [r for r in RUNTIMES if preferred in (None, r[1])]
    if not candidates:
        raise NoRuntimeError(f"unknown runtime {preferred!r}; choose from {', '.join(r[1] for r in RUNTIMES)}")
    failures = []
    for module_name, distribution in candidates:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            failures.append(f"{distribution}: {exc}")
            continue
        return Runtime(distribution, runtime_version(module_name, distribution), module.Interpreter)
    raise NoRuntimeError("no TFLite runtime found (" + "; ".join(failures) + "); " + what_to_install())


def what_to_install() -> str:
    """The advice for this machine: PyPI has no LiteRT wheels for 32-bit ARM (armv7l) Python 3.10 and later."""
    machine = platform.machine()
    if machine.startswith("armv") or (machine == "aarch64" and platform.architecture()[0] == "32bit"):
        return ("this is a 32-bit ARM system, for which no runtime is published for this Python: "
                "install Raspberry Pi OS (64-bit) and then pip install ai-edge-litert")
    return "pip install ai-edge-litert"
