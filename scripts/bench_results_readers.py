#!/usr/bin/env python3
"""Classification under ``/api/results`` readers (a benchmark, not a test).

Run ``.venv/bin/python scripts/bench_results_readers.py``.

The service's loop with its results log and the web view (which reads ``/api/results`` from that log)
classifies the bundled catsdogs samples as 640x480 frames in memory, first with nobody reading, then
with ``--readers`` clients each looping on ``/api/results?limit=1000`` as fast as they are answered
(a refusal, 429, is counted and the client asks again at once). Prints results per second for both and
what share of its rate classification keeps. The log starts with 5,000 results, so every request has
1,000 to read.
"""

from __future__ import annotations

import argparse
import queue
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from piclassify.device.commands.bench import TimedSource, sample_frames
from piclassify.device.config import ResultsConfig, ServiceConfig, WebConfig
from piclassify.device.core.loop import FrameLoop, LoopSettings
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.sinks.outputs import Outputs
from piclassify.device.sinks.web.sink import WebSink


class Reader(threading.Thread):
    """Loops on /api/results?limit=1000 until told to stop; counts answers and refusals."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = f"http://127.0.0.1:{port}/api/results?limit=1000", stop
        self.answered = self.refused = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    response.read()
                self.answered += 1
            except urllib.error.HTTPError as error:
                self.refused += error.code == 429
            except OSError:
                pass


def results_per_s(pipeline: Pipeline, images: list, seconds: float, readers: int, log_path: Path) -> tuple[float, str]:
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    loop: Optional[FrameLoop] = None
    config = ServiceConfig(source="memory", results=ResultsConfig(path=log_path, max_bytes=64 << 20, keep=2,
                                                                  nothing=True),
                           web=WebConfig(enabled=True, port=0))  # any free port
    outputs = Outputs.open(config, pipeline, events, lambda: loop)
    web = next(sink for sink in outputs.sinks.sinks if isinstance(sink, WebSink))
    port = web.address[1]
    source = TimedSource(images, 10 ** 9, 0.0)
    loop = FrameLoop(lambda: source, pipeline, outputs.sinks, LoopSettings(), events=events)
    stop = threading.Event()
    clients = [Reader(port, stop) for _ in range(readers)]
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    time.sleep(2.0)  # warm up
    for client in clients:
        client.start()
    time.sleep(1.0)
    before, started = loop.counts.classified, time.monotonic()
    time.sleep(seconds)
    rate = (loop.counts.classified - before) / (time.monotonic() - started)
    stop.set()
    loop.stop()
    thread.join(10)
    for client in clients:
        client.join(10)
    outputs.close()
    answered, refused = sum(c.answered for c in clients), sum(c.refused for c in clients)
    return rate, (f"{answered / (seconds + 1):.1f} answers/s, {refused / (seconds + 1):.0f} refusals/s" if readers
                  else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="catsdogs")
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    pipeline = Pipeline.load(args.model)
    _, images = sample_frames(args.model)
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "results.jsonl"
        line = ('{"schema": 1, "time": "2026-01-01T00:00:00.000+00:00", "model": "m", "source": "s", "frame": %d, '
                '"label": "cat", "index": 0, "score": 0.9, "top": [["cat", 0.9]], "reason": null, "latency_ms": 5.0}\n')
        log_path.write_text("".join(line % n for n in range(5000)))
        alone, _ = results_per_s(pipeline, images, args.seconds, 0, log_path)
        read, note = results_per_s(pipeline, images, args.seconds, args.readers, log_path)
    print(f"{args.model}: {alone:.1f} results/s with nobody reading; {read:.1f} results/s with {args.readers} "
          f"looping /api/results?limit=1000 readers ({note}): {100 * read / alone:.0f}% kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
