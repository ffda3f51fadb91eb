#!/usr/bin/env python3
"""What photo uploads cost the service (a benchmark, not a test): ``.venv/bin/python scripts/bench_uploads.py``.

Runs ``piclassify service`` in this process with the web view and its teach panel, on the model's samples
as 640x480 frames in memory, unpaced (the loop classifies as fast as it can, so any CPU an upload takes
shows in its rate). Then, against ``POST /api/classify``:

1. memory: ``--burst`` clients (default 50) each send a phone photo (``--photo-mp`` megapixels, default 12)
   at the same moment; the process's resident memory is sampled every 20 ms. It prints the memory
   before, its peak, and ``--settle`` seconds after the last answer, and the answers by status.
2. the loop: ``--rounds`` alternating windows of ``--window`` seconds with no upload and with
   ``--clients`` clients (default 8) each sending a photo again as soon as it has its answer (640x480
   photos, then phone photos); the loop's frames per second in each, pooled, and their ratio.

Every request has a 120 s timeout: one that runs out is a hang. Log records with a traceback are
counted as tracebacks. Numbers vary on a loaded machine: run it more than once.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
from bench_soak import EndlessSource, process_sample
from bench_web import free_port

from piclassify.device.commands.bench import sample_frames
from piclassify.device.config import load_config
from piclassify.device.core.loop import STOP
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.service.runner import Service

CONFIG = """\
model = "{model}"
source = "memory"
log_level = "warning"
[results]
path = "{folder}/results.jsonl"
[web]
enabled = true
port = {port}
[teach]
examples = "{folder}/examples"
models = "{folder}/models"
"""
TIMEOUT_S = 120.0


class TracebackCounter(logging.Handler):
    """Counts log records that carry a traceback, at any level (the web server logs a failed request at debug)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.count += 1


def jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def phone_photo(image: np.ndarray, megapixels: float) -> bytes:
    """A sample enlarged to a phone's photo, with a phone's sensor noise (so it is as large as one: MBs)."""
    height = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    big = cv2.resize(image, (height * 4 // 3, height), interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(1).integers(-12, 13, big.shape, dtype=np.int16)
    return jpeg(np.clip(big.astype(np.int16) + noise, 0, 255).astype(np.uint8))


def post(port: int, body: bytes) -> str:
    """One upload's outcome: its HTTP status, or what went wrong ("hang" when it ran out of time)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        connection.request("POST", "/api/classify", body, {"Content-Type": "image/jpeg"})
        response = connection.getresponse()
        response.read()
        return str(response.status)
    except TimeoutError:
        return "hang"
    except OSError as error:
        return type(error).__name__
    finally:
        connection.close()


def burst(port: int, body: bytes, clients: int, settle_s: float) -> None:
    """``clients`` uploads at once: memory before, at its peak, and after."""
    before = process_sample(time.monotonic(), 0).rss_mb
    start, outcomes, peak, done = threading.Barrier(clients + 1), Counter[str](), [before], threading.Event()

    def client() -> None:
        start.wait()
        outcomes[post(port, body)] += 1

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], process_sample(time.monotonic(), 0).rss_mb)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    sampler = threading.Thread(target=sample, daemon=True)
    for thread in threads + [sampler]:
        thread.start()
    started = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    time.sleep(settle_s)
    done.set()
    sampler.join()
    after = process_sample(time.monotonic(), 0).rss_mb
    print(f"burst: {clients} uploads of {len(body) / 1e6:.1f} MB at once, answered in {took:.1f} s: "
          f"{dict(sorted(outcomes.items()))}; RSS {before:.0f} MB before, {peak[0]:.0f} MB at its peak, "
          f"{after:.0f} MB {settle_s:.0f} s after ({after - before:+.0f} MB)", flush=True)


class Uploaders:
    """``clients`` threads sending ``body`` again and again while ``on`` is set; outcomes counted."""

    def __init__(self, port: int, clients: int) -> None:
        self.port, self.on, self.stop = port, threading.Event(), threading.Event()
        self.body = b""
        self.outcomes: Counter[str] = Counter()
        for _ in range(clients):
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set():
            if not self.on.wait(0.1):
                continue
            outcome = post(self.port, self.body)
            self.outcomes[outcome] += 1
            if outcome != "200":
                time.sleep(0.2)  # a refused client tries again a little later, as the page does


def loop_rate(service: Service, uploaders: Uploaders, body: bytes, rounds: int, window_s: float) -> tuple[float, float]:
    """Frames per second without uploads and with them, alternating windows, pooled."""
    frames, seconds = {False: 0, True: 0}, {False: 0.0, True: 0.0}
    uploaders.body = body
    for _, uploading in itertools.product(range(rounds), (False, True)):
        if uploading:
            uploaders.on.set()
        time.sleep(1.0)  # let it settle into the window's state
        loop = service.loop
        assert loop is not None
        first, started = loop.counts.classified, time.monotonic()
        time.sleep(window_s)
        frames[uploading] += loop.counts.classified - first
        seconds[uploading] += time.monotonic() - started
        uploaders.on.clear()
        time.sleep(0.5)
    return frames[False] / seconds[False], frames[True] / seconds[True]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="catsdogs", help="bundled model the service runs (default: catsdogs)")
    parser.add_argument("--burst", type=int, default=50, help="uploads sent at once (default: 50)")
    parser.add_argument("--photo-mp", type=float, default=12.0, help="megapixels of a phone photo (default: 12)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after the burst (default: 10)")
    parser.add_argument("--clients", type=int, default=8, help="clients uploading in the loop's rounds (default: 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds without and with uploads (default: 3)")
    parser.add_argument("--window", type=float, default=8.0, help="seconds of each window (default: 8)")
    parser.add_argument("--skip", choices=("burst", "loop"), action="append", default=[], help="leave a part out")
    args = parser.parse_args()
    _, images = sample_frames(args.model)
    small, phone = jpeg(images[0]), phone_photo(images[0], args.photo_mp)
    tracebacks = TracebackCounter()
    logging.getLogger().addHandler(tracebacks)
    logging.getLogger("piclassify").setLevel(logging.DEBUG)
    logging.getLogger("piclassify").propagate = True
    with tempfile.TemporaryDirectory(prefix="piclassify-uploads-") as folder:
        port = free_port()
        config_path = Path(folder) / "piclassify.toml"
        config_path.write_text(CONFIG.format(model=args.model, folder=folder, port=port))
        service = Service(config_path, load_config(config_path),
                          source_factory=lambda spec, size: EndlessSource(images), pipeline_factory=Pipeline.load)
        failure: list[Optional[BaseException]] = [None]

        def measure() -> None:
            try:
                while service.loop is None or service.loop.counts.classified < 20:
                    time.sleep(0.05)
                print(f"service: {args.model}, unpaced 640x480 frames; {post(port, small)} for a first upload; "
                      f"RSS {process_sample(time.monotonic(), 0).rss_mb:.0f} MB", flush=True)
                time.sleep(2.0)
                if "burst" not in args.skip:
                    burst(port, phone, args.burst, args.settle)
                if "loop" not in args.skip:
                    uploaders = Uploaders(port, args.clients)
                    for name, body in (("640x480 photos", small), (f"{args.photo_mp:g} MP photos", phone)):
                        uploaders.outcomes.clear()
                        alone, loaded = loop_rate(service, uploaders, body, args.rounds, args.window)
                        print(f"loop: {alone:.1f} frames/s alone, {loaded:.1f} with {args.clients} clients uploading "
                              f"{name} ({loaded / alone:.2f} of its rate); answers "
                              f"{dict(sorted(uploaders.outcomes.items()))}", flush=True)
                    uploaders.stop.set()
            except BaseException as error:  # noqa: BLE001 - reported after the service stops
                failure[0] = error
            finally:
                service.events.put(STOP)

        threading.Thread(target=measure, daemon=True).start()
        service.run()
    if failure[0] is not None:
        raise failure[0]
    print(f"tracebacks logged: {tracebacks.count}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
