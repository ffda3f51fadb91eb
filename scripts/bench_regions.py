#!/usr/bin/env python3
"""Watched regions' numbers for docs/regions.md (a benchmark, not a test): ``scripts/bench_regions.py``.

1. CPU on a static scene: the real loop, 640x480 frames paced like a 30 frames/s camera (a card
   showing "1" in a region, sensor noise on every frame), the bundled digits model on the region;
   process CPU time (every thread, ``time.process_time``) over ``--seconds``, as CPU seconds per hour:
   every frame classified (``recheck_s = 0``) against classified only when the region's pixels
   change, or after ``--recheck`` seconds.
2. The delay from a change to the new steady state, in frames: the card turns from "1" to "7" at a
   known frame; the frame at which the region's steady state is "7", for each ``agree``.
3. Frame time with every frame classified, unpaced: one region with one model (digits) against two
   regions with two models: digits and a second interpreter of the same model (two models of one
   cost), and digits and fashion (whose backbone input is larger, 192 against 144); the median of
   the loop's time per frame over ``--rounds`` alternating rounds (the median resists other processes).

4. Two states taught from 20 captures each: a drawn garage door, open or shut (``scenes.draw_door``:
   each frame its own light and slant, shadow, camera shake, noise and JPEG), 20 whole frames per
   state taught with ``piclassify teach --region``'s cropping, then the region's answer on
   ``--held-out`` other frames per state. A drawn scene, not a real door.

The scenes are the tests' (``tests/helpers/scenes.py``). Numbers vary on a loaded machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the scene the timeline test plays

from piclassify.device.commands.bench import TimedSource  # noqa: E402
from piclassify.device.core.loop import FrameLoop, LoopSettings  # noqa: E402
from piclassify.device.core.pipeline import Pipeline  # noqa: E402
from piclassify.device.core.regions import Box, Region, Regions  # noqa: E402
from piclassify.device.core.regions.steady import Steady  # noqa: E402
from piclassify.device.core.sink import Delivery, Sinks  # noqa: E402

from tests.helpers.scenes import CARD, DOOR, DOOR_STATES, draw_door, draw_frame  # noqa: E402

SIZE = (640, 480)
FPS = 30.0
# The second region of the frame-time comparison: the card again, so that its model runs whole on every frame (an
# empty patch of wall would be "nothing in view" from the framing alone, in a fraction of a millisecond).
OTHER = CARD


class Changes:
    """Remembers the frames where a region's steady state changed."""

    name = "changes"

    def __init__(self) -> None:
        self.changed: list[tuple[int, Optional[str]]] = []
        self.classified = 0

    def handle(self, delivery: Delivery) -> None:
        if delivery.changed:
            self.changed.append((delivery.result.frame, delivery.result.label))

    def close(self) -> None:
        pass


def scene(count: int, card: str, seed: int = 0) -> list[np.ndarray]:
    """``count`` RGB frames of the still scene, the card showing ``card``, each with its own sensor noise."""
    rng = np.random.default_rng(seed)
    return [cv2.cvtColor(draw_frame(0, rng, SIZE, card), cv2.COLOR_BGR2RGB) for _ in range(count)]


def run(images: list[np.ndarray], count: int, regions: list[Region], pipeline: Pipeline, fps: float = 0.0,
        load: Optional[dict[str, Pipeline]] = None) -> tuple[float, float, Changes, TimedSource]:
    """The real loop over ``count`` frames; (process CPU seconds, wall seconds, the changes, the source)."""
    loaded = load or {}
    watched = Regions.open(regions, pipeline, "digits", lambda name: loaded[name])
    source, changes = TimedSource(images, count, fps), Changes()
    cpu, wall = time.process_time(), time.perf_counter()
    FrameLoop(lambda: source, pipeline, Sinks([changes]), LoopSettings(), regions=watched).run()
    return time.process_time() - cpu, time.perf_counter() - wall, changes, source


def static_cpu(pipeline: Pipeline, seconds: float, recheck_s: float) -> None:
    images, count = scene(30, "1"), int(seconds * FPS)
    print(f"1. static scene, {SIZE[0]}x{SIZE[1]} at {FPS:g} frames/s for {seconds:g} s, digits on the card's "
          f"region (process CPU time, all threads)")
    every, _, _, _ = run(images, count, [Region("card", Box(*CARD), recheck_s=0.0)], pipeline, FPS)
    idle, _, _, _ = run(images, count, [Region("card", Box(*CARD), recheck_s=recheck_s)], pipeline, FPS)
    per_hour = 3600.0 / seconds
    print(f"   every frame classified:              {every * per_hour:8.0f} CPU s per hour")
    print(f"   on change or every {recheck_s:g} s (change 4.0): {idle * per_hour:8.0f} CPU s per hour "
          f"= {100 * idle / every:.1f}% of every frame")


def change_delay(pipeline: Pipeline) -> None:
    print("2. the card turns from \"1\" to \"7\" at frame 60 (recheck_s 60): frames until the steady state is \"7\"")
    before, after = scene(60, "1", seed=1), scene(60, "7", seed=2)
    for agree in (1, 3, 5):
        _, _, changes, _ = run(before + after, 120, [Region("card", Box(*CARD), agree=agree)], pipeline)
        at = next((frame for frame, label in changes.changed if label == "7"), None)
        print(f"   agree {agree}: steady \"7\" at frame {at}, {'never' if at is None else at - 60} frames after the "
              f"change ({'within' if at is not None and at - 60 < agree else 'NOT within'} agree frames)")


def frame_times(pipeline: Pipeline, models: dict[str, Pipeline], rounds: int, frames: int) -> None:
    """Every frame classified, unpaced: each setup's median time per frame, the setups alternating round by round."""
    images = scene(30, "1")
    card = Region("card", Box(*CARD), recheck_s=0.0)
    setups = {"one region, one model (digits)": [card],
              "one region, one model (fashion)": [replace(card, model="fashion")],
              "two regions, one model (digits, shared)": [card, Region("other", Box(*OTHER), recheck_s=0.0)],
              "two regions, two models (digits, digits loaded again)": [
                  card, Region("other", Box(*OTHER), model="digits-again", recheck_s=0.0)],
              "two regions, two models (digits, fashion)": [
                  card, Region("other", Box(*OTHER), model="fashion", recheck_s=0.0)]}
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(rounds):
        for name, regions in setups.items():
            times[name] += run(images, frames, regions, pipeline, load=models)[3].frame_s
    medians = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    one = medians["one region, one model (digits)"]
    print(f"3. frame time, {SIZE[0]}x{SIZE[1]}, every frame classified, median of {rounds} x {frames} frames each:")
    for name, median in medians.items():
        print(f"   {name + ':':55} {median:6.1f} ms = {median / one:.2f}x one region (digits)")
    both = medians["one region, one model (digits)"] + medians["one region, one model (fashion)"]
    print(f"   digits and fashion each alone, added: {both:.1f} ms; the two regions together take "
          f"{medians['two regions, two models (digits, fashion)'] / both:.2f}x that")


def taught_door(held_out: int, threads: Optional[int]) -> None:
    from piclassify.device.core.frames import Frame
    from piclassify.device.teach.fit import teach

    region, rng = Region("door", Box(*DOOR)), np.random.default_rng(20)
    with tempfile.TemporaryDirectory() as folder:
        for state in DOOR_STATES:
            (Path(folder) / "examples" / state).mkdir(parents=True)
            for number in range(20):
                cv2.imwrite(str(Path(folder) / "examples" / state / f"{number:02d}.jpg"), draw_door(state, rng))
        teach("door", Path(folder) / "examples", Path(folder) / "models", threads=threads, log=lambda line: None,
              region=region.box)
        pipeline = Pipeline.load(str(Path(folder) / "models" / "door.npz"), threads=threads)
        answers: dict[str, list[Optional[str]]] = {state: [] for state in DOOR_STATES}
        test = np.random.default_rng(21)
        for state in DOOR_STATES:
            for index in range(held_out):
                frame = Frame(draw_door(state, test), 0.0, index, layout="BGR")
                answers[state].append(pipeline.classify(region.crop(frame)).label)
    right = sum(label == state for state, labels in answers.items() for label in labels)
    print(f"4. a drawn garage door taught from 20 whole frames per state, cropped to the region; {held_out} other "
          f"frames per state:")
    for state, labels in answers.items():
        print(f"   {state}: {sum(label == state for label in labels)} right, "
              f"{sum(label is None for label in labels)} nothing in view, of {len(labels)}")
    print(f"   right: {100 * right / (held_out * len(DOOR_STATES)):.1f}% of the answers")
    steady_right = unknown = 0
    for state, labels in answers.items():  # each state's frames in a row, as a camera would see them, from no state
        steady = Steady(3)
        for label in labels:
            steady.answer(label)
            steady_right += steady.known and steady.state == state
            unknown += not steady.known
    print(f"   as steady states (agree 3, each state's frames in a row): {steady_right} of "
          f"{held_out * len(DOOR_STATES)} frames right, {unknown} before the first steady state")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of each static-scene run (default 20)")
    parser.add_argument("--recheck", type=float, default=5.0,
                        help="recheck_s of the static run (default 5: twelve times the default 60's rechecks)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the frame-time comparison (default 3)")
    parser.add_argument("--frames", type=int, default=60, help="frames per frame-time round (default 60)")
    parser.add_argument("--threads", type=int, default=None, help="interpreter threads (default: as the service)")
    parser.add_argument("--held-out", type=int, default=200, help="held-out frames per door state (default 200)")
    args = parser.parse_args()
    pipeline = Pipeline.load("digits", threads=args.threads)
    print(f"digits and fashion, {pipeline.classifier.runtime.name} {pipeline.classifier.runtime.version}, "
          f"threads {args.threads or 'default'}")
    static_cpu(pipeline, args.seconds, args.recheck)
    change_delay(pipeline)
    models = {"fashion": Pipeline.load("fashion", threads=args.threads),
              "digits-again": Pipeline.load("digits", threads=args.threads)}  # its own interpreter: a second model
    frame_times(pipeline, models, args.rounds, args.frames)
    taught_door(args.held_out, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
