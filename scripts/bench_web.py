#!/usr/bin/env python3
"""Web view numbers for the README (a benchmark, not a test): run ``.venv/bin/python scripts/bench_web.py``.

The classify loop's frame time (the real digits model on 640x480 frames in memory; the time the loop
spends on each frame outside the source: classify, decide, sinks) with the web view off, on with no
client, on with one live-stream client (MJPEG at the default 5 frames/s, the model input kept for
it), and on with one client doing what the page does (``/api/events``, and for each frame it shows
``/api/frame``, ``snapshot.jpg`` and ``model-input.png``), in alternating rounds: unpaced, and paced
like a 30 frames/s camera. Each mode's frame times are pooled over its rounds; the median resists
other processes taking the CPU now and then, the mean of rounds does not. The stream is encoded in
the server's thread, so on a machine with few cores it competes with the loop for CPU. Numbers vary
on a loaded machine: run it several times.
"""

from __future__ import annotations

import argparse
import json
import queue
import socket
import statistics
import sys
import threading
import time
import urllib.request
from typing import Optional

from piclassify.device.commands.bench import TimedSource, add_round_options, sample_frames
from piclassify.device.config import ResultsConfig, ServiceConfig, WebConfig
from piclassify.device.core.loop import FrameLoop, LoopSettings
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.sinks.outputs import Outputs
from piclassify.device.sinks.web.sink import WebSink

MODES = ("off", "on", "stream", "page")
LABELS = {"off": "web off", "on": "web on, no client", "stream": "web on, 1 stream at 5 fps",
          "page": "web on, 1 page at 5 fps"}


class StreamClient(threading.Thread):
    """Reads /stream.mjpg and throws it away, counting bytes, until the server closes it."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.bytes = 0

    def run(self) -> None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stream.mjpg", timeout=30) as response:
                while chunk := response.read1(65536):
                    self.bytes += len(chunk)
        except OSError:
            pass


class PageClient(threading.Thread):
    """What the page does: the results' event stream, and for each frame it shows, the frame's number, then its
    picture and its model input; until the server closes. Counts the frames it showed."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.base = f"http://127.0.0.1:{port}"
        self.shown = 0
        threading.Thread(target=self._events, daemon=True).start()

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=30) as response:
            return response.read()

    def _events(self) -> None:
        try:
            with urllib.request.urlopen(self.base + "/api/events", timeout=30) as response:
                while response.read1(65536):
                    pass
        except OSError:
            pass

    def run(self) -> None:
        seq = 0
        try:
            while True:
                look = json.loads(self._get(f"/api/frame?after={seq}"))
                if look["seq"] in (0, seq):
                    continue
                seq = look["seq"]
                self._get(f"/snapshot.jpg?seq={seq}")
                self._get(f"/model-input.png?seq={seq}")
                self.shown += 1
        except OSError:
            pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def frame_ms(pipeline: Pipeline, images: list, count: int, mode: str, fps: float) -> tuple[list[float], str]:
    """Milliseconds the loop spent on each frame outside the source: classify, decide, sinks."""
    source = TimedSource(images, count, fps)
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    loop: Optional[FrameLoop] = None
    port = free_port()
    config = ServiceConfig(source="memory", results=ResultsConfig(path=None),
                           web=WebConfig(enabled=mode != "off", port=port))
    outputs = Outputs.open(config, pipeline, events, lambda: loop)
    web = next((sink for sink in outputs.sinks.sinks if isinstance(sink, WebSink)), None)
    client, note = None, ""
    if web is not None and mode in ("stream", "page"):
        client = StreamClient(port) if mode == "stream" else PageClient(port)
        client.start()
        while not web.state.wants_model_input():
            time.sleep(0.005)
    loop = FrameLoop(lambda: source, pipeline, outputs.sinks, LoopSettings(), events=events)
    loop.run()
    if web is not None:
        state = web.state
        note = (f"{state.stream_sent} sent, {state.encoded} encoded" if mode == "stream" else
                f"{client.shown} shown, {state.encoded} encoded" if mode == "page" and client else "")
    outputs.close()
    if client is not None:
        client.join(10)
    return [seconds * 1e3 for seconds in source.frame_s], note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_round_options(parser, frames=1000, paced_frames=150, rounds=10, modes="off, on, stream and page")
    args = parser.parse_args()
    pipeline = Pipeline.load("digits")
    _, images = sample_frames("digits")
    print(f"python {sys.version.split()[0]}, {pipeline.classifier.runtime.name} {pipeline.classifier.runtime.version}")
    for fps, count in ((0.0, args.frames), (30.0, args.paced_frames)):
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        means: dict[str, list[float]] = {mode: [] for mode in MODES}
        notes: dict[str, list[str]] = {"stream": [], "page": []}
        for _ in range(args.rounds):
            for mode in MODES:
                frame_times, note = frame_ms(pipeline, images, count, mode, fps)
                times[mode] += frame_times
                means[mode].append(statistics.fmean(frame_times))
                if mode in notes:
                    notes[mode].append(note)
        off = statistics.median(times["off"])
        pace = f"paced at {fps:g} frames/s" if fps else "unpaced"
        print(f"loop frame time, {pace}, {count} frames x {args.rounds} rounds: median of all frames, p90, "
              "and the median of the rounds' means")
        for mode in MODES:
            median = statistics.median(times[mode])
            change = "" if mode == "off" else f" {(median / off - 1) * 100:+5.1f}%"
            p90 = statistics.quantiles(times[mode], n=10)[-1]
            print(f"  {LABELS[mode]:<27} {median:.3f} ms{change:7}  p90 {p90:.3f} ms  "
                  f"mean of rounds {statistics.median(means[mode]):.3f} ms")
        print(f"  stream rounds (frames sent, encoded): {'; '.join(notes['stream'])}")
        print(f"  page rounds (frames shown, encoded): {'; '.join(notes['page'])}")


if __name__ == "__main__":
    main()
