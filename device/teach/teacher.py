"""The web view's teach panel behind its API: examples from the camera (or an upload) into classes, a fit
in the background with ``piclassify teach``'s own code, and the service switched to the new model.

A fit runs in one thread at a time, off the loop: the camera keeps being classified with the running
model until the new one is written, then the service reloads onto it and tells the panel whether it
runs it (``model_running``) or why it cannot (``switch_failed``). Photos uploaded from a phone and digits
drawn on the page are classified here, with pipelines of their own (the loop's interpreter belongs to
the loop's thread) on one thread each (the loop keeps its cores), through the same framing and models
as the camera's frames: by default the model the service runs, loaded again whenever it switches.
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
from piclassify.device.core.model_files import resolve_model
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.rate_limit import RateLimit
from piclassify.device.core.sink import Delivery
from piclassify.device.errors import TeachBusy, TooBusy
from piclassify.device.teach.examples import MAX_BYTES, ExampleError, ExampleStore
from piclassify.device.teach.fit import MIN_EXAMPLES, check_name, teach
from piclassify.shared.errors import PiclassifyError

log = logging.getLogger(__name__)

PIPELINES = 2  # models kept open for uploads and drawings (the current one, digits)
UPLOAD_THREADS = 1  # an upload's interpreter threads: the loop keeps the others
LOADS_PER_S, LOAD_BURST = 0.1, 2  # models opened for uploads: after two at once, one every 10 s


class Teacher:
    """Examples in ``store``, models written to ``models_dir``; ``use_model(path)`` asks the service to switch.

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
        self._switching: Optional[tuple[str, str]] = None  # (model path, what was fitted) while the service switches
        self._pipelines: OrderedDict[str, Pipeline] = OrderedDict()
        self._pipelines_lock = threading.Lock()
        self._loads = RateLimit(LOADS_PER_S, LOAD_BURST, 0.0)
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
        return {"classes": self.store.counts(), "bytes": self.store.size(), "max_bytes": MAX_BYTES,
                "fitting": fitting, "message": message, "min_examples": MIN_EXAMPLES}

    def capture(self, label: str, rgb: np.ndarray) -> dict[str, Any]:
        self.store.add(label, rgb)
        return self.status()

    def undo(self) -> dict[str, Any]:
        self.store.undo()
        return self.status()

    def remove(self, label: str) -> dict[str, Any]:
        self.store.remove(label)
        return self.status()

    def fit(self, name: str) -> None:
        """Start fitting ``name`` from the examples (classes without any are left out); ``TeachBusy`` while one runs,
        ``ExampleError`` when the examples cannot make a model yet."""
        check_name(name)
        counts = {label: count for label, count in self.store.counts().items() if count}
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
            fitted = (f"{name}: {len(manifest.labels)} classes, {100 * accuracy:.0f}% of the examples right when "
                      f"left out; fitted in {time.monotonic() - started:.0f} s")
            path = self.models_dir / f"{name}.npz"
            with self._lock:
                self._switching = (str(path), fitted)
            self._note(f"{fitted}; switching to it")
            self.use_model(path)
        except PiclassifyError as error:
            self._note(f"fit failed: {error}")
        except Exception as error:  # noqa: BLE001 - the panel must say so, and the service goes on
            log.exception("teach: fitting %s failed", name)
            self._note(f"fit failed: {type(error).__name__}")

    def model_running(self, path: str) -> None:
        """The service (re)loaded and runs ``path``: uploads follow it (a refit keeps the name, not the model); a
        fitted model it switched to is "now running"."""
        with self._pipelines_lock:
            self._pipelines.pop(path, None)
        with self._lock:
            switching, self._switching = self._switching, None
        if switching is not None and switching[0] == path:
            self._note(f"{switching[1]}, now running")

    def switch_failed(self, path: str, error: str) -> None:
        """The service could not switch to a fitted model: the panel says why, and the service runs what it ran."""
        with self._lock:
            switching, self._switching = self._switching, None
        if switching is not None and switching[0] == path:
            self._note(f"{switching[1]}, but the service cannot run it: {error}")

    def _note(self, message: str) -> None:
        log.info("teach: %s", message)
        with self._lock:
            self._message = message

    def classify(self, rgb: np.ndarray, model: Optional[str] = None) -> dict[str, Any]:
        """An uploaded photo or a drawing through ``model`` (default: the one the service runs), as a result record.
        Opening a model costs far more than a photo: uploads that switch between models open one every 10 s at most
        (``TooBusy`` otherwise)."""
        spec = str(resolve_model(model or self.current_model()))  # "digits" and its path are one model
        with self._pipelines_lock:
            pipeline = self._pipelines.pop(spec, None)
            if pipeline is None:
                if not self._loads.take(1):
                    raise TooBusy("switching models for uploads: one every 10 s at most; try again shortly")
                pipeline = Pipeline.load(spec, threads=UPLOAD_THREADS)
            self._pipelines[spec] = pipeline
            while len(self._pipelines) > PIPELINES:
                self._pipelines.popitem(last=False)
            return pipeline.classify(Frame(rgb, time.time(), 0, "upload")).record()
