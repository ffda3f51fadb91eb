"""The watched regions of one stream: per region, crop -> (changed?) -> framing -> model -> steady state.

The loop hands each frame to ``Regions.look`` and each answer it gets back to the sinks. A region is
classified only when its pixels changed since the last classification (``ChangeGate``), when
``recheck_s`` has passed, while a change of state is under way (answers must agree ``agree``
times in a row, every frame, so a change is never left half-counted on a still scene), or while
someone watches the web view (a sink keeps the model input: the live view and the teach panel's
Capture need the newest frame). Regions that name one model share one loaded interpreter; all
crops of a frame share its colour conversion.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterable, Optional, Sequence

import numpy as np

from piclassify.device.core.regions.change import ChangeGate, small_grey
from piclassify.device.core.regions.region import Box, Region
from piclassify.device.core.regions.steady import Steady
from piclassify.device.core.sink import Delivery
from piclassify.device.errors import RegionError

if TYPE_CHECKING:
    from piclassify.device.core.frames import Frame
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.shared.framing.framed import FramingSteps

StepsFor = Callable[[], "Optional[FramingSteps]"]  # somewhere to keep the model input, while a sink shows it
NOTHING = "nothing in view"  # the name of the state with no label, where a state is named
REVIEW = 12  # notable answers kept per region for the web view's review list (a crop each, copied: tens of KB)


@dataclass(frozen=True)
class Notable:
    """An answer worth a second look: where the state changed, or one below min_score; its crop, copied."""

    number: int  # counts up per region: the review list's id
    time: float
    label: Optional[str]
    score: Optional[float]
    why: str  # "changed" or "uncertain"
    rgb: np.ndarray = field(repr=False)


@dataclass
class RegionWatch:
    """One region's model, its steady state, and what it looked like when last classified."""

    region: Region
    pipeline: Pipeline
    steady: Steady
    gate: ChangeGate
    classified_at: float = float("-inf")  # time.monotonic() of the last classification
    difference: float = float("inf")  # how far the newest crop is from the last classified one (the page shows it)
    last: Optional[Delivery] = field(default=None, repr=False)  # the newest steady answer
    changed_at: Optional[float] = None  # when the steady state last changed (the frame's time)
    review: deque[Notable] = field(default_factory=lambda: deque(maxlen=REVIEW), repr=False)
    _noted: int = 0

    @classmethod
    def of(cls, region: Region, pipeline: Pipeline) -> RegionWatch:
        return cls(region, pipeline, Steady(region.agree), ChangeGate(region.change))

    def look(self, frame: Frame, steps_for: StepsFor, now: float) -> Optional[Delivery]:
        """Classify the region if it is due; the answer as the sinks get it, or None when it was not classified."""
        crop = self.region.crop(frame)
        small = small_grey(crop.gray)
        self.difference = self.gate.difference(small)
        recheck = now - self.classified_at >= self.region.recheck_s
        steps = steps_for()  # not None while someone watches the web view
        if steps is None and self.steady.settled and not recheck and self.difference <= self.region.change:
            return None
        result = replace(self.pipeline.classify(crop, steps) if steps is not None else self.pipeline.classify(crop),
                         region=self.region.name)
        self.gate.keep(small)
        self.classified_at = now
        uncertain = result.score is not None and result.score < self.region.min_score
        changed = False
        if uncertain:
            self.steady.uncertain()
        else:
            changed = self.steady.answer(result.label)
        if changed:
            self.changed_at = result.time
        if changed or uncertain:
            self._noted += 1
            self.review.append(Notable(self._noted, result.time, result.label, result.score,
                                       "changed" if changed else "uncertain", np.array(crop.rgb)))
        steady = not uncertain and self.steady.known and result.label == self.steady.state
        if not steady:
            result = replace(result, extras={**result.extras, "raw": True})
        model_input = steps.images.get("model-input") if steps is not None else None
        delivery = Delivery(result, frame, uncertain, changed, model_input, steady=steady, crop=crop)
        if steady:
            self.last = delivery
        return delivery


class Regions:
    """Every watched region of the stream, in the config's order."""

    def __init__(self, watches: Sequence[RegionWatch]) -> None:
        self.watches = list(watches)

    @classmethod
    def open(cls, regions: Iterable[Region], pipeline: Pipeline, model: str,
             load: Callable[[str], Pipeline]) -> Regions:
        """A watch per region: a region without a model reads with ``pipeline`` (the config's ``model``); each other
        model is loaded once with ``load``, however many regions name it."""
        loaded = {model: pipeline}
        watches = []
        for region in regions:
            wanted = region.model or model
            if wanted not in loaded:
                loaded[wanted] = load(wanted)
            check_states(region, loaded[wanted])
            watches.append(RegionWatch.of(region, loaded[wanted]))
        return cls(watches)

    def watch(self, name: str) -> RegionWatch:
        """The watch of the region called ``name``; ``RegionError`` when there is none."""
        for watch in self.watches:
            if watch.region.name == name:
                return watch
        raise RegionError(f"no region is named {name[:32]!r}")

    def move(self, name: str, box: Box) -> Region:
        """Watch another part of the frame under the same name (the web view's drag), until the config is read
        again; the next frame is classified afresh."""
        watch = self.watch(name)
        watch.region = replace(watch.region, box=box)  # one reference, swapped whole: the loop reads it per frame
        watch.gate.forget()
        return watch.region

    def look(self, frame: Frame, steps_for: StepsFor, now: Optional[float] = None) -> list[Delivery]:
        """Each region's answer to ``frame``, for those classified now."""
        at = time.monotonic() if now is None else now
        answers = (watch.look(frame, steps_for, at) for watch in self.watches)
        return [answer for answer in answers if answer is not None]


def states(pipeline: Pipeline) -> list[str]:
    """A region's states: its model's labels, and "nothing in view"."""
    return [*pipeline.manifest.labels, NOTHING]


def check_states(region: Region, pipeline: Pipeline) -> None:
    """The state a region names "on" must be one it can be in."""
    if region.on is not None and region.on not in states(pipeline):
        raise RegionError(f"region {region.name}: on = {region.on!r} is not a state of model "
                          f"{pipeline.manifest.name} ({', '.join(states(pipeline))})")
