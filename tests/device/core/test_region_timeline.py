"""The issue's first target: a region watched on a real video, its published (steady) states equal to the timeline.

A video written here with OpenCV (``tests/helpers/scenes.py``): a card in one region shows "1",
nothing, "7" (with one frame of "1" in the middle: a hand waved past), then "1" again, while the
light swells and fades, a ball rolls across the rest of the frame, and every frame has sensor noise.
The real loop plays it through the OpenCV file source with the bundled ``digits`` model reading the
card's region: each change of the card is published once, within ``agree`` frames of the truth, the
odd frame never, and frames where the card did not change are not classified at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from piclassify.device.core.loop import FrameLoop, LoopSettings
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.regions import Box, Region, Regions
from piclassify.device.core.sink import Delivery, Sinks
from piclassify.device.core.sources import open_source

from tests.helpers import scenes


class Published:
    """What the sinks are handed (steady states), and every raw answer."""

    name = "published"
    takes_raw = True

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    def handle(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scenes.write_video(tmp_path_factory.mktemp("timeline") / "card.avi")


@pytest.mark.parametrize("agree", [2, 3])
def test_the_published_states_follow_the_timeline_within_agree_frames_without_flapping(video, agree):
    pipeline = Pipeline.load("digits")
    regions = Regions.open([Region("card", Box(*scenes.CARD), agree=agree, recheck_s=3600.0)], pipeline,
                           "digits", Pipeline.load)
    published = Published()
    FrameLoop(lambda: open_source(str(video)), pipeline, Sinks([published]), LoopSettings(), regions=regions).run()

    changes = [(d.result.frame, d.result.label) for d in published.deliveries if d.changed]
    assert [state for _, state in changes] == [state for _, state in scenes.TIMELINE]  # each change once, no flap
    for (frame, _), (start, _) in zip(changes, scenes.TIMELINE):
        assert start <= frame < start + agree, (frame, start)
    steady = [d for d in published.deliveries if d.steady]
    assert all(d.result.label == scenes.truth(d.result.frame) for d in steady)  # never the odd frame's answer
    assert any(d.result.frame == scenes.GLITCH and d.result.label == "1" for d in published.deliveries)  # it was seen
    classified = [d.result.frame for d in published.deliveries]
    assert len(classified) < scenes.LENGTH * 0.8  # frames where the card did not change were not classified
    assert all(d.result.region == "card" and d.crop is not None and d.crop.gray.shape == (168, 128)
               for d in published.deliveries)
