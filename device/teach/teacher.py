"""The web view's teach panel behind its API: examples from the camera (or an upload) into classes, a fit
in the background with ``piclassify teach``'s own code, and the service switched to the new model.

A fit runs in one thread at a time, off the loop: the camera keeps being classified with the running
model until the new one is written, then the service reloads onto it. Photos uploaded from a phone and
digits drawn on the page are classified here, with pipelines of their own (the loop's interpreter
belongs to the loop's thread), through the same framing and models as the camera's frames.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from piclassify.device.core.frames import Frame
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.sink import Delivery
from piclassify.device.errors import TeachBusy
from piclassify.device.teach.examples import ExampleError, ExampleStore
from piclassify.device.teach.fit import MIN_EXAMPLES, check_name, teach
from piclassify.shared.errors import PiclassifyError

log = logging.getLogger(__name__)

PIPELINES = 2  # models kept open for uploads and drawings (the current one, digits)


class Teacher:
    """Examples in ``store``, models written to ``models_dir``; ``use_model(path)`` switches the service.

    Also a sink: it keeps a reference to the newest frame, which a GPIO button per class captures.
    """

    name = "teach panel"

    def __init__(self, store: ExampleStore, models_dir: Path, use_model: Callable[[Path], None],
                 current_model: Callable[[], str], threads: Optional[int] = None) -> None:
        self.store, self.models_dir = store, Path(models_dir)
        self.use_model, self.current_model, self.threads = use_model, current_model, threads
        self._lock = threading.Lock()
        self._fitting: Optional[threading.Thread] = None
        self._message = ""
        self._pipelines: OrderedDict[str, Pipeline] = OrderedDict()
        self._pipelines_lock = threading.Lock()
        self._newest: Optional[Frame] = None

    def handle(self, delivery: Delivery) -> None:
        self._newest = delivery.frame  # a reference, O(1): the loop never waits for the panel

    def close(self) -> None:
        """Nothing: the panel outlives the outputs a reload replaces (a fit may be running)."""

    def capture_newest(self, label: str) -> None:
        """A class's button was pressed: the newest frame becomes an example (a problem is one log line)."""
        frame = self._newest
        if frame is None:
            log.warning("teach: %s: no frame yet to keep", label)
            return
        try:
            count = self.store.add(label, frame.rgb)
        except PiclassifyError as error:
            log.warning("teach: %s", error)
            return
        log.info("teach: %s now has %d examples", label, count)

    def status(self) -> dict[str, Any]:
        with self._lock:
            fitting = self._fitting is not None and self._fitting.is_alive()
            message = self._message
        return {"classes": self.store.counts(), "fitting": fitting, "message": message,
                "min_examples": MIN_EXAMPLES}

    def capture(self, label: str, rgb: np.ndarray) -> dict[str, Any]:
        self.store.add(label, rgb)
        return self.status()

    def undo(self) -> dict[str, Any]:
        self.store.undo()
        return self.status()

    def fit(self, name: str) -> None:
        """Start fitting ``name`` from the examples; ``TeachBusy`` while one runs, ``ExampleError`` when the
        examples cannot make a model yet."""
        check_name(name)
        counts = self.store.counts()
        if len(counts) < 2 or min(counts.values()) < MIN_EXAMPLES:
            raise ExampleError(f"a model needs at least 2 classes of {MIN_EXAMPLES} examples each "
                               f"(now: {', '.join(f'{c} {n}' for c, n in counts.items()) or 'none'})")
        with self._lock:
            if self._fitting is not None and self._fitting.is_alive():
                raise TeachBusy("a fit is running; wait for it")
            self._message = f"fitting {name} on {sum(counts.values())} examples"
            self._fitting = threading.Thread(target=self._fit, args=(name,), name="teach-fit", daemon=True)
            self._fitting.start()

    def _fit(self, name: str) -> None:
        started = time.monotonic()
        try:
            manifest = teach(name, self.store.root, self.models_dir, threads=self.threads, log=log.debug,
                             force=True)  # the panel's Fit and run fits its model again on the new examples
            accuracy = manifest.metrics.get("cross_validated_accuracy", 0.0)
            self._note(f"{name}: {len(manifest.labels)} classes, {100 * accuracy:.0f}% of the examples right when "
                       f"left out; fitted in {time.monotonic() - started:.0f} s, now running")
            self.use_model(self.models_dir / f"{name}.npz")
        except PiclassifyError as error:
            self._note(f"fit failed: {error}")
        except Exception as error:  # noqa: BLE001 - the panel must say so, and the service goes on
            log.exception("teach: fitting %s failed", name)
            self._note(f"fit failed: {type(error).__name__}")

    def _note(self, message: str) -> None:
        log.info("teach: %s", message)
        with self._lock:
            self._message = message

    def classify(self, rgb: np.ndarray, model: Optional[str] = None) -> dict[str, Any]:
        """An uploaded photo or a drawing through ``model`` (default: the service's), as a result record."""
        spec = model or self.current_model()
        with self._pipelines_lock:
            pipeline = self._pipelines.pop(spec, None) or Pipeline.load(spec, threads=self.threads)
            self._pipelines[spec] = pipeline
            while len(self._pipelines) > PIPELINES:
                self._pipelines.popitem(last=False)
            return pipeline.classify(Frame(rgb, time.time(), 0, "upload")).record()
