"""Watched regions (``device/core/regions``): the crop, steady answers, the change gate, and the loop over them.

What a region promises: the model reads only its crop; its state changes only after ``agree``
answers in a row agree ("nothing in view" too), within ``agree`` answers of a real change, and never
flaps on a lone odd answer; an unchanged region is not classified again until ``recheck_s``; regions
naming one model share one loaded model; sinks see steady states, and raw answers only if they ask.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np
import pytest

from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import FrameLoop, LoopSettings
from piclassify.device.core.regions import Box, Region, RegionBoxError, Regions, RegionWatch
from piclassify.device.core.regions.change import ChangeGate, small_grey
from piclassify.device.core.regions.steady import Steady
from piclassify.device.core.sink import Delivery, Sinks
from piclassify.device.errors import RegionError
from piclassify.shared.contract.result import Result

from conftest import make_result
from tests.helpers.service import FakeManifest


def test_a_box_is_fractions_inside_the_frame():
    assert Box(0.5, 0.25, 0.5, 0.5).pixels(640, 480) == (320, 120, 640, 360)
    assert Box(0.0, 0.0, 0.001, 0.001).pixels(640, 480) == (0, 0, 1, 1)  # at least a pixel
    for bad in ((0.6, 0.0, 0.5, 0.5), (0.0, 0.0, 0.0, 0.5), (-0.1, 0.0, 0.5, 0.5), (0.0, 0.7, 0.5, 0.4)):
        with pytest.raises(RegionBoxError):
            Box(*bad)


@pytest.mark.parametrize("layout", ["RGB", "BGR", "GRAY", "YUV420"])
def test_the_crop_is_the_regions_pixels_in_every_layout(layout):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[12:36, 32:64] = 200  # the region's quarter is bright, the rest dark
    import cv2

    pixels = {"RGB": rgb, "BGR": rgb[..., ::-1].copy(), "GRAY": rgb[..., 0].copy(),
              "YUV420": cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)}[layout]
    frame = Frame(pixels, 1.0, 7, "camera", layout, width=64)
    crop = Region("door", Box(0.5, 0.25, 0.5, 0.5)).crop(frame)
    assert crop.gray.shape == (24, 32) and crop.rgb.shape == (24, 32, 3)
    assert crop.gray.min() > 180 and crop.rgb.min() > 180  # YUV's limited range: 188
    assert (crop.index, crop.timestamp, crop.origin) == (7, 1.0, "camera")


def feed(steady: Steady, answers: list[Optional[str]]) -> list[Optional[str]]:
    """The steady state after each answer ("?" until there is one)."""
    states = []
    for answer in answers:
        steady.answer(answer)
        states.append(steady.state if steady.known else "?")
    return states


def test_a_state_changes_after_agree_answers_in_a_row_and_never_on_a_lone_one():
    answers = ["shut"] * 4 + ["open"] + ["shut"] * 2 + ["open"] * 3 + [None, "open"] + [None] * 3
    assert feed(Steady(3), answers) == ["?", "?", "shut", "shut", "shut", "shut", "shut", "shut", "shut", "open",
                                        "open", "open", "open", "open", None]


def test_agree_one_follows_every_answer():
    answers = ["a", "b", None, "b"]
    assert feed(Steady(1), answers) == answers


def test_an_uncertain_answer_breaks_a_run():
    steady = Steady(2)
    feed(steady, ["shut", "shut", "open"])
    steady.uncertain()
    assert feed(steady, ["open"]) == ["shut"] and not steady.settled
    assert feed(steady, ["open"]) == ["open"] and steady.settled


def test_the_change_gate_ignores_noise_and_sees_a_change():
    rng = np.random.default_rng(0)
    scene = rng.integers(60, 200, (120, 160)).astype(np.float64)
    noisy = lambda: np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).astype(np.uint8)  # noqa: E731
    gate = ChangeGate(4.0)
    assert gate.changed(small_grey(noisy()))  # nothing kept yet: classify
    gate.keep(small_grey(noisy()))
    assert not any(gate.changed(small_grey(noisy())) for _ in range(20))
    opened = scene.copy()
    opened[30:90, 40:120] = 20
    assert gate.changed(small_grey(np.clip(opened, 0, 255).astype(np.uint8)))


class Script:
    """A model that answers the labels it is given in turn, counting the crops it read."""

    def __init__(self, *answers: Optional[str], score: float = 0.9, name: str = "garage") -> None:
        self.answers, self.score = list(answers), score
        self.manifest = FakeManifest(name, labels=("open", "shut"))
        self.crops: list[Frame] = []

    def classify(self, frame: Frame, steps: object = None) -> Result:
        self.crops.append(frame)
        answer = self.answers.pop(0) if self.answers else "shut"
        return make_result(answer, self.score, frame=frame.index, model=self.manifest.name)


def frames(count: int, changing: bool = True) -> list[Frame]:
    """Frames whose left half changes from frame to frame (or not), its right half never."""
    made = []
    for index in range(count):
        pixels = np.full((48, 64), 100, np.uint8)
        if changing:
            pixels[:, :32] = (index * 40) % 250
        made.append(Frame(pixels, float(index), index, "camera", "GRAY"))
    return made


def test_an_unchanged_region_is_classified_again_only_after_recheck_s():
    model = Script()
    watch = RegionWatch.of(Region("door", Box(0.5, 0.0, 0.5, 1.0), agree=2, recheck_s=10.0), model)
    answered = [watch.look(frame, lambda: None, now=float(frame.index)) for frame in frames(25)]
    classified = [index for index, answer in enumerate(answered) if answer is not None]
    assert classified == [0, 1, 11, 21]  # two to agree on a state, then a recheck every 10 s
    assert all(crop.gray.shape == (48, 32) for crop in model.crops)


def test_a_changed_region_is_classified_until_its_new_state_is_steady():
    model = Script("shut", "shut", "shut", "open", "open", "open")
    watch = RegionWatch.of(Region("door", Box(0.0, 0.0, 0.5, 1.0), agree=3, recheck_s=1000.0), model)
    still = frames(3, changing=False)
    opened = [replace(frame, pixels=np.where(np.arange(64) < 32, 20, 100).astype(np.uint8)[np.newaxis].repeat(48, 0))
              for frame in frames(6)]  # the left half goes dark, and stays so
    answers = [watch.look(frame, lambda: None, now=0.0) for frame in still + opened]
    assert [a is not None for a in answers] == [True, True, True] + [True] * 3 + [False] * 3
    assert [(a.result.label, a.steady, a.changed) for a in answers if a is not None] == [
        ("shut", False, False), ("shut", False, False), ("shut", True, True),
        ("open", False, False), ("open", False, False), ("open", True, True)]
    assert watch.last is not None and watch.last.result.region == "door"


def test_regions_naming_one_model_share_it():
    loaded: list[str] = []

    def load(name: str) -> Script:
        loaded.append(name)
        return Script(name=name)

    main = Script(name="digits")
    regions = Regions.open([Region("a", Box(0, 0, 0.5, 1)), Region("b", Box(0.5, 0, 0.5, 1), model="garage"),
                            Region("c", Box(0, 0, 1, 0.5), model="garage"), Region("d", Box(0, 0.5, 1, 0.5),
                                                                                   model="digits")],
                           main, "digits", load)  # type: ignore[arg-type]
    assert loaded == ["garage"]
    pipelines = [watch.pipeline for watch in regions.watches]
    assert pipelines[0] is main and pipelines[3] is main and pipelines[1] is pipelines[2]


def test_a_region_on_state_must_be_one_of_its_states():
    with pytest.raises(RegionError, match="ajar"):
        Regions.open([Region("a", Box(0, 0, 1, 1), on="ajar")], Script(), "garage", Script)  # type: ignore[arg-type]


class Recorder:
    def __init__(self, takes_raw: bool = False) -> None:
        self.name, self.takes_raw = "recorder", takes_raw
        self.deliveries: list[Delivery] = []

    def handle(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    def close(self) -> None:
        pass


class Frames:
    name = "camera"

    def __init__(self, made: list[Frame]) -> None:
        self.frames = iter(made)

    def __iter__(self) -> Frames:
        return self

    def __next__(self) -> Frame:
        return next(self.frames)

    def close(self) -> None:
        pass


def test_the_loop_hands_sinks_the_steady_states_and_raw_answers_only_to_those_that_ask():
    model = Script("shut", "shut", "shut", "open", "shut", "open", "open", "open")
    regions = Regions([RegionWatch.of(Region("door", Box(0, 0, 0.5, 1), recheck_s=1000.0), model)])
    steady, raw = Recorder(), Recorder(takes_raw=True)
    made = frames(10)
    FrameLoop(lambda: Frames(made), Script(), Sinks([steady, raw]), LoopSettings(), regions=regions).run()  # type: ignore
    assert [(d.result.label, d.changed) for d in steady.deliveries] == [("shut", True), ("shut", False),
                                                                       ("open", True)]
    assert len(raw.deliveries) == len(model.crops) == 10
    assert [d.result.record().get("raw", False) for d in raw.deliveries] == [True, True, False, True, False, True,
                                                                             True, False, True, True]
    assert all(d.result.record()["region"] == "door" and d.crop is not None for d in raw.deliveries)


def test_a_whole_frame_result_has_no_region_key():
    assert "region" not in make_result("7").record()
    assert replace(make_result("7"), region="door").record()["region"] == "door"


def test_the_results_log_logs_steady_states_and_with_raw_every_answer_marked(tmp_path):
    import json

    from piclassify.device.sinks.results_log import ResultLog

    logs = {raw: ResultLog(tmp_path / f"{raw}.jsonl", 100_000, 1, raw=raw) for raw in (False, True)}
    model = Script("shut", "shut", "shut", "open", "shut", "open", "open", "open")
    regions = Regions([RegionWatch.of(Region("door", Box(0, 0, 0.5, 1)), model)])
    made = frames(8)
    FrameLoop(lambda: Frames(made), Script(), Sinks(list(logs.values())), LoopSettings(),  # type: ignore
              regions=regions).run()
    lines = {raw: [json.loads(line) for line in (tmp_path / f"{raw}.jsonl").read_text().splitlines()]
             for raw in logs}
    assert [(line["label"], line["frame"]) for line in lines[False]] == [("shut", 2), ("shut", 4), ("open", 7)]
    assert [line["frame"] for line in lines[True]] == list(range(8))
    assert [line["frame"] for line in lines[True] if line.get("raw")] == [0, 1, 3, 5, 6]


def test_while_someone_watches_the_page_an_unchanged_region_is_classified_every_frame():
    from piclassify.shared.framing.framed import FramingSteps

    model = Script()
    watch = RegionWatch.of(Region("door", Box(0.5, 0.0, 0.5, 1.0), agree=1, recheck_s=1000.0), model)
    assert all(watch.look(frame, FramingSteps, now=0.0) is not None for frame in frames(5))
    assert watch.look(frames(1)[0], lambda: None, now=0.0) is None  # nobody watches: it rests again


def test_a_moved_region_reads_its_new_box_from_the_next_frame():
    model = Script()
    regions = Regions([RegionWatch.of(Region("door", Box(0.5, 0.0, 0.5, 1.0), agree=1, recheck_s=1000.0), model)])
    still = frames(3, changing=False)
    assert len(regions.look(still[0], lambda: None, now=0.0)) == 1
    assert regions.look(still[1], lambda: None, now=0.0) == []
    assert regions.move("door", Box(0.0, 0.0, 0.25, 0.5)).box == Box(0.0, 0.0, 0.25, 0.5)
    assert len(regions.look(still[2], lambda: None, now=0.0)) == 1 and model.crops[-1].gray.shape == (24, 16)
    with pytest.raises(RegionError, match="no region is named 'gate'"):
        regions.move("gate", Box(0, 0, 1, 1))


def test_changes_and_uncertain_answers_are_kept_for_review_with_their_crops():
    model = Script("shut", "shut", "open", "open", "open")
    model.score = 0.9
    watch = RegionWatch.of(Region("door", Box(0.0, 0.0, 0.5, 1.0), agree=2, min_score=0.5), model)
    for frame in frames(5):  # the region changes on every frame: each is classified
        if frame.index == 2:
            model.score = 0.3  # one unsure answer
        watch.look(frame, lambda: None, now=0.0)
        model.score = 0.9
    assert [(n.number, n.label, n.why) for n in watch.review] == [(1, "shut", "changed"), (2, "open", "uncertain"),
                                                                  (3, "open", "changed")]
    assert all(n.rgb.shape == (48, 32, 3) and n.rgb.flags.owndata for n in watch.review)
