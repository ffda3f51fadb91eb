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

The clients run in a process of their own (as phones are elsewhere), so the service's process pays only
for what the service does; they still share this machine's cores.

Every request has a 120 s timeout: one that runs out is a hang. Log records with a traceback are
counted as tracebacks. Numbers vary on a loaded machine: run it more than once.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import logging
import multiprocessing
import sys
import tempfile
import threading
import time
from collections import Counter
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Callable, Optional

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


def on_threads(client: Callable[[], None], count: int) -> None:
    """``client`` on ``count`` threads at once, until every one returns."""
    threads = [threading.Thread(target=client) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def burst_clients(port: int, body: bytes, clients: int, results: Queue) -> None:
    """``clients`` uploads at the same moment, each on a thread; their outcomes counted."""
    start, outcomes = threading.Barrier(clients), Counter[str]()

    def client() -> None:
        start.wait()
        outcomes[post(port, body)] += 1

    on_threads(client, clients)
    results.put(dict(outcomes))


def uploading_clients(port: int, bodies: dict[str, bytes], clients: int, on: Event, which: Queue, stop: Event,
                      results: Queue) -> None:
    """``clients`` threads sending the body named last on ``which`` again and again while ``on`` is set (a refused
    one tries again 0.2 s later); when ``stop`` is set, the outcomes counted."""
    outcomes, chosen = Counter[str](), [b""]

    def client() -> None:
        while not stop.is_set():
            if not on.wait(0.1):
                continue
            outcome = post(port, chosen[0])
            outcomes[outcome] += 1
            if outcome != "200":
                time.sleep(0.2)

    def choose() -> None:
        while not stop.is_set():
            chosen[0] = bodies[which.get()]

    threading.Thread(target=choose, daemon=True).start()
    on_threads(client, clients)
    results.put(dict(outcomes))


def burst(port: int, body: bytes, clients: int, settle_s: float) -> None:
    """``clients`` uploads at once, from a process of their own: the service's memory before, at its peak, after."""
    context = multiprocessing.get_context("spawn")
    results: Queue = context.Queue()
    before = process_sample(time.monotonic(), 0).rss_mb
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], process_sample(time.monotonic(), 0).rss_mb)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    child = context.Process(target=burst_clients, args=(port, body, clients, results))
    child.start()
    outcomes = results.get()
    took = time.monotonic() - started
    child.join()
    time.sleep(settle_s)
    done.set()
    sampler.join()
    after = process_sample(time.monotonic(), 0).rss_mb
    print(f"burst: {clients} uploads of {len(body) / 1e6:.1f} MB at once, answered in {took:.1f} s (a process "
          f"started): {dict(sorted(outcomes.items()))}; RSS {before:.0f} MB before, {peak[0]:.0f} MB at its peak, "
          f"{after:.0f} MB {settle_s:.0f} s after ({after - before:+.0f} MB)", flush=True)


def loop_rates(service: Service, port: int, bodies: dict[str, bytes], clients: int, rounds: int,
               window_s: float) -> None:
    """For each body: the loop's frames per second without uploads and with ``clients`` uploading it (from a process
    of their own), in alternating windows, pooled."""
    context = multiprocessing.get_context("spawn")
    on, stop, which, results = context.Event(), context.Event(), context.Queue(), context.Queue()
    child = context.Process(target=uploading_clients, args=(port, bodies, clients, on, which, stop, results))
    child.start()
    for name in bodies:
        which.put(name)
        frames, seconds = {False: 0, True: 0}, {False: 0.0, True: 0.0}
        for _, uploading in itertools.product(range(rounds), (False, True)):
            if uploading:
                on.set()
            time.sleep(1.0)  # let it settle into the window's state
            loop = service.loop
            assert loop is not None
            first, started = loop.counts.classified, time.monotonic()
            time.sleep(window_s)
            frames[uploading] += loop.counts.classified - first
            seconds[uploading] += time.monotonic() - started
            on.clear()
            time.sleep(0.5)
        alone, loaded = frames[False] / seconds[False], frames[True] / seconds[True]
        print(f"loop: {alone:.1f} frames/s alone, {loaded:.1f} with {clients} clients uploading {name} "
              f"({loaded / alone:.2f} of its rate)", flush=True)
    stop.set()
    print(f"loop: the clients' answers {dict(sorted(results.get().items()))}", flush=True)
    child.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="catsdogs", help="bundled model the service runs (default: catsdogs)")
    parser.add_argument("--burst", type=int, default=50, help="uploads sent at once (default: 50)")
    parser.add_argument("--photo-mp", type=float, default=12.0, help="megapixels of a phone photo (default: 12)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after the burst (default: 10)")
    parser.add_argument("--clients", type=int, default=8, help="clients uploading in the loop's rounds (default: 8)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds without and with uploads (default: 8)")
    parser.add_argument("--window", type=float, default=4.0, help="seconds of each window (default: 4)")
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
                    bodies = {"640x480 photos": small, f"{args.photo_mp:g} MP photos": phone}
                    loop_rates(service, port, bodies, args.clients, args.rounds, args.window)
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
