#!/usr/bin/env python3
"""Does the service hold steady for months? A soak run (a benchmark, not a test): ``.venv/bin/python
scripts/bench_soak.py --minutes 10``.

Runs ``piclassify service`` in this process with every output that keeps state switched on: the
results log (rotating every 256 KiB), saved frames (every frame, the oldest deleted beyond 100), and
the web view with one client doing what the page does (``scripts/bench_web.py``'s ``PageClient``) and
one asking ``/api/status`` and ``/api/results`` every second. The camera is the model's samples as
640x480 frames in memory, unpaced (many more frames an hour than a camera's 30 a second, so a leak
shows sooner). Every ``--every`` seconds it samples the process: frames classified, resident memory,
open file descriptors, threads. At the end: the memory's growth per hour after warm-up (a straight
line through the samples of the last four fifths), and ``--plot`` draws it all (matplotlib).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np
from bench_web import PageClient, free_port

from piclassify.device.commands.bench import sample_frames
from piclassify.device.config import load_config
from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import STOP
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.service.runner import Service

CONFIG = """\
model = "{model}"
source = "memory"
log_level = "warning"
[results]
path = "{folder}/results/results.jsonl"
max_bytes = 262144
keep = 2
[frames]
save = "{save}"
path = "{folder}/frames"
max_count = 100
[web]
enabled = {web}
port = {port}
[teach]
examples = "{folder}/examples"
models = "{folder}/models"
"""


class Sample(NamedTuple):
    seconds: float
    frames: int
    rss_mb: float
    fds: int
    threads: int


def process_sample(started: float, frames: int) -> Sample:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return Sample(time.monotonic() - started, frames, int(status["VmRSS"].split()[0]) / 1024,
                  len(os.listdir("/proc/self/fd")), int(status["Threads"]))


class EndlessSource:
    """The samples over and over, as a camera that never stops; each a new ``Frame``."""

    name = "memory"

    def __init__(self, images: list[np.ndarray]) -> None:
        self._images = images
        self._index = itertools.count()

    def __iter__(self) -> "EndlessSource":
        return self

    def __next__(self) -> Frame:
        index = next(self._index)
        return Frame(self._images[index % len(self._images)], time.time(), index, self.name)

    def close(self) -> None:
        """Nothing to release: the frames are in memory."""


class Reader(threading.Thread):
    """What a second browser tab does now and then: the status panel and the recent results, once a second."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.stop = f"http://127.0.0.1:{port}", stop

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for path in ("/api/status", "/api/results?limit=100"):
                try:
                    with urllib.request.urlopen(self.base + path, timeout=10) as response:
                        response.read()
                except OSError:
                    pass


def growth_mb_per_hour(samples: list[Sample]) -> float:
    """The slope of a straight line through the resident memory of the last four fifths of the run."""
    steady = samples[len(samples) // 5:]
    if len(steady) < 2:
        return 0.0
    slope, _ = np.polyfit([s.seconds for s in steady], [s.rss_mb for s in steady], 1)
    return float(slope) * 3600


def plot(samples: list[Sample], title: str, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("bench_soak: --plot needs matplotlib (pip install matplotlib)")
    minutes = [s.seconds / 60 for s in samples]
    figure, (memory, frames) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    memory.plot(minutes, [s.rss_mb for s in samples])
    memory.set_ylabel("resident memory (MB)")
    memory.set_ylim(0, max(s.rss_mb for s in samples) * 1.2)
    memory.set_title(title, fontsize=10)
    frames.plot(minutes, [s.frames for s in samples])
    frames.set_ylabel("frames classified")
    frames.set_xlabel("minutes")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="digits", help="bundled model to run (default: digits)")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default: 10)")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples (default: 15)")
    parser.add_argument("--plot", type=Path, help="also draw memory and frames over time to this PNG")
    parser.add_argument("--without", action="append", choices=("frames", "web"), default=[],
                        help="leave an output off, to find which one grows (repeat for both)")
    args = parser.parse_args()
    _, images = sample_frames(args.model)
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="piclassify-soak-") as folder:
        port = free_port()
        config_path = Path(folder) / "piclassify.toml"
        config_path.write_text(CONFIG.format(model=args.model, folder=folder, port=port,
                                             save="none" if "frames" in args.without else "all",
                                             web="false" if "web" in args.without else "true"))
        service = Service(config_path, load_config(config_path),
                          source_factory=lambda spec, size: EndlessSource(images), pipeline_factory=Pipeline.load)
        samples: list[Sample] = []

        def sample_until_done() -> None:
            started = time.monotonic()
            while service.loop is None or service.outputs is None:
                time.sleep(0.05)
            if "web" not in args.without:
                PageClient(port).start()
                Reader(port, stop).start()
            print(f"{'minutes':>8} {'frames':>9} {'RSS MB':>8} {'fds':>5} {'threads':>8}", flush=True)
            while True:
                sample = process_sample(started, service.loop.counts.classified)
                samples.append(sample)
                print(f"{sample.seconds / 60:8.1f} {sample.frames:9d} {sample.rss_mb:8.1f} {sample.fds:5d} "
                      f"{sample.threads:8d}", flush=True)
                if sample.seconds >= args.minutes * 60 or stop.wait(args.every):
                    break
            stop.set()
            service.events.put(STOP)

        threading.Thread(target=sample_until_done, daemon=True).start()
        service.run()
    first, last = samples[len(samples) // 5], samples[-1]
    print(f"{args.model}: {last.frames} frames in {last.seconds / 60:.1f} min ({last.frames / last.seconds:.0f}/s); "
          f"RSS {first.rss_mb:.1f} MB after warm-up, {last.rss_mb:.1f} MB at the end, "
          f"{growth_mb_per_hour(samples):+.2f} MB/hour; fds {first.fds} -> {last.fds}, threads {first.threads} -> "
          f"{last.threads}")
    if args.plot:
        outputs = ["results log"] + [name for flag, name in (("frames", "saved frames"), ("web", "web view, 2 clients"))
                                     if flag not in args.without]
        plot(samples, f"piclassify service, {args.model}: {', '.join(outputs)}", args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
