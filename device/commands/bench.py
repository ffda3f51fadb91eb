"""``piclassify bench``: per-stage latency (median, p95), frames per second, peak memory, cold start.

Benchmarks are not tests: this prints numbers for people (and closing notes) to compare.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from piclassify.device.core.frames import Frame
from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.device.core.pipeline import Pipeline
from piclassify.shared.contract.result import STAGES
from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.imagefile import read_image
from piclassify.shared.framing.model_input import resize_area

ALL_STAGES = ("capture",) + STAGES


@dataclass(frozen=True)
class StageStats:
    median_ms: float
    p95_ms: float


@dataclass(frozen=True)
class BenchReport:
    frames: int
    seconds: float
    stages: dict[str, StageStats]
    peak_rss_mb: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def frame_ms(self) -> float:
        """A frame's median milliseconds through the pipeline, capture aside."""
        return sum(self.stages[stage].median_ms for stage in STAGES)

    def lines(self) -> list[str]:
        out = [f"{'stage':<12} {'median ms':>10} {'p95 ms':>10}"]
        for name, stats in self.stages.items():
            out.append(f"{name:<12} {stats.median_ms:10.3f} {stats.p95_ms:10.3f}")
        pre_post = self.stages["preprocess"].median_ms + self.stages["postprocess"].median_ms
        out.append(f"pre+post     {pre_post:10.3f}")
        out.append(f"{self.frames} frames in {self.seconds:.2f} s: {self.fps:.0f} frames/s; "
                   f"peak RSS {self.peak_rss_mb:.1f} MB")
        return out


def peak_rss_mb() -> float:
    """Peak resident set size in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed_frames(frames: Iterable[Frame]) -> Iterator[tuple[Frame, float]]:
    """Each frame with the milliseconds it took the source to deliver (capture or decode)."""
    iterator = iter(frames)
    while True:
        t0 = time.perf_counter()
        try:
            frame = next(iterator)
        except StopIteration:
            return
        yield frame, (time.perf_counter() - t0) * 1e3


def run_bench(pipeline: Pipeline, frames: Iterable[Frame], warmup: int = 20) -> BenchReport:
    """Classify every frame; time each stage. The first ``warmup`` frames are run but not counted."""
    samples: dict[str, list[float]] = {name: [] for name in ALL_STAGES}
    counted = 0
    started = None
    for n, (frame, capture_ms) in enumerate(timed_frames(frames)):
        if n == warmup:
            started = time.perf_counter()
        result = pipeline.classify(frame)
        if n < warmup:
            continue
        counted += 1
        samples["capture"].append(capture_ms)
        for stage in STAGES:
            samples[stage].append(result.stage_ms[stage])
    seconds = time.perf_counter() - started if started is not None else 0.0
    stages = {name: StageStats(float(np.median(v)) if v else 0.0, float(np.percentile(v, 95)) if v else 0.0)
              for name, v in samples.items()}
    return BenchReport(counted, seconds, stages, peak_rss_mb())


def sample_frames(model: str) -> tuple[list[Path], list[np.ndarray]]:
    """The bundled samples of ``model`` (all of them if it has none), and each as a 640x480 RGB camera frame."""
    samples = sorted(SAMPLES_DIR.glob(f"{model}-*.jpg")) or sorted(SAMPLES_DIR.glob("*.jpg"))
    return samples, [resize_area(read_image(path), 640, 480) for path in samples]


def add_round_options(parser: argparse.ArgumentParser, frames: int, paced_frames: int, rounds: int,
                      modes: str) -> None:
    """A sink benchmark's rounds: ``modes`` alternate, each round unpaced and then at 30 frames/s."""
    parser.add_argument("--frames", type=int, default=frames, help="frames per unpaced round")
    parser.add_argument("--paced-frames", type=int, default=paced_frames, help="frames per round at 30 frames/s")
    parser.add_argument("--rounds", type=int, default=rounds, help=f"rounds of {modes}, alternating")


def in_memory_frames(images: list[np.ndarray], count: int) -> Iterator[Frame]:
    """``count`` RGB frames cycling through ``images`` already in memory: capture costs nothing.

    Each is a new ``Frame``, so no conversion is remembered from one to the next.
    """
    for n in range(count):
        yield Frame(images[n % len(images)], time.time(), n, "memory")


# Runs ``piclassify ARGS`` (predict, teach) in a fresh interpreter, then prints that process's own peak RSS. Its
# VmHWM, not getrusage: Linux's ru_maxrss of a child starts at the parent's size at fork and survives exec.
RUN_THEN_PEAK = ("import sys; from piclassify.device.commands.cli import main; code = main(sys.argv[1:]); "
                      "peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')]; "
                      "print(peak[0].split()[1], file=sys.stderr); sys.exit(code)")


def cold_start(model: str, image: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a fresh ``piclassify predict`` process on one image."""
    t0 = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", RUN_THEN_PEAK, "predict", "--model", model, image],
                               capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if completed.returncode != 0:
        raise PiclassifyError(f"cold start failed: {completed.stderr.strip()}")
    return seconds, int(completed.stderr.split()[-1]) / 1024.0


class TimedSource:
    """In-memory frames, optionally paced like a camera; counts the time spent in it (not the loop's)."""

    def __init__(self, images: list, count: int, fps: float = 0.0) -> None:
        self.name = "memory"
        self._frames = in_memory_frames(images, count)
        self._period = 1.0 / fps if fps else 0.0
        self._next = 0.0
        self._left_at = 0.0
        self.seconds = 0.0
        self.frame_s: list[float] = []  # from handing out a frame to being asked for the next

    def __iter__(self) -> "TimedSource":
        return self

    def __next__(self) -> Frame:
        t0 = time.perf_counter()
        if self._left_at:
            self.frame_s.append(t0 - self._left_at)
        if self._period:
            if self._next:
                time.sleep(max(0.0, self._next - t0))
            self._next = max(self._next + self._period, t0)
        try:
            return next(self._frames)
        finally:
            self._left_at = time.perf_counter()
            self.seconds += self._left_at - t0

    def close(self) -> None:
        """Nothing to release: the frames are in memory."""
