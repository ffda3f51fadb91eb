#!/usr/bin/env python3
"""MQTT numbers for the README (a benchmark, not a test): run ``.venv/bin/python scripts/bench_mqtt.py``.

1. Results per second the MQTT sink gets acknowledged by a local mosquitto at QoS 1 (and, with
   mosquitto_sub installed, received by a subscriber in another process).
2. The classify loop's frame time (the real digits model on 640x480 frames in memory, the time the
   loop spends outside the source) with MQTT on and off, alternating rounds: unpaced, and paced
   like a 30 frames/s camera.

Starts its own mosquitto on a free port (apt install mosquitto). Numbers vary on a loaded machine:
run it several times and compare medians.
"""

from __future__ import annotations

import argparse
import getpass
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from piclassify.device.commands.bench import TimedSource, add_round_options, sample_frames
from piclassify.device.config import MqttConfig, ResultsConfig, ServiceConfig
from piclassify.device.core.frames import Frame
from piclassify.device.core.loop import FrameLoop, LoopSettings
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.sink import Delivery
from piclassify.device.sinks.mqtt.client import paho_version
from piclassify.device.sinks.mqtt.sink import MqttSink
from piclassify.device.sinks.outputs import LoopGetter, Outputs, no_loop


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    mosquitto = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if mosquitto is None:
        sys.exit("bench_mqtt: mosquitto is not installed (apt install mosquitto)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      f"user {getpass.getuser()}\nmax_queued_messages 1000000\n")
    process = subprocess.Popen([mosquitto, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    sys.exit("bench_mqtt: mosquitto did not start")


def throughput(port: int, pipeline: Pipeline, frame: Frame, count: int) -> str:
    """``count`` results handed over at once; seconds until the broker acknowledged the last one."""
    result = pipeline.classify(frame)
    sub = None
    if shutil.which("mosquitto_sub"):
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                                "-t", "piclassify/bench/result", "-C", str(count)], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
    config = MqttConfig(host="127.0.0.1", port=port, client_id="bench", qos=1, queue_size=count,
                        homeassistant=False)
    outputs, sink = mqtt_outputs(config, pipeline, queue.SimpleQueue())
    assert sink is not None
    while not sink.connected:
        time.sleep(0.01)
    started = time.perf_counter()
    for _ in range(count):
        sink.handle(Delivery(result, frame))
    handed = time.perf_counter() - started
    while sink.published < count:
        time.sleep(0.001)
    acked = time.perf_counter() - started
    received = ""
    if sub is not None:
        sub.wait(120)
        received = f"; a subscriber had all {count} after {time.perf_counter() - started:.2f} s"
    outputs.close()
    return (f"{count} results at QoS 1: handed over in {handed * 1e3:.0f} ms ({handed / count * 1e6:.1f} us each), "
            f"acknowledged by the broker after {acked:.2f} s: {count / acked:,.0f} results/s{received}")


def frame_ms(pipeline: Pipeline, images: list, count: int, port: int, mqtt: bool, fps: float) -> float:
    """Mean milliseconds per frame the loop spends outside the source: classify, decide, sinks."""
    source = TimedSource(images, count, fps)
    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    loop: Optional[FrameLoop] = None
    config = MqttConfig(host="127.0.0.1" if mqtt else None, port=port, client_id="bench-loop", homeassistant=False)
    outputs, sink = mqtt_outputs(config, pipeline, events, lambda: loop)
    while sink is not None and not sink.connected:
        time.sleep(0.01)
    loop = FrameLoop(lambda: source, pipeline, outputs.sinks, LoopSettings(), events=events)
    started = time.perf_counter()
    loop.run()
    seconds = time.perf_counter() - started - source.seconds
    outputs.close()
    return seconds / loop.counts.classified * 1e3


def mqtt_outputs(config: MqttConfig, pipeline: Pipeline, events: queue.SimpleQueue[str],
                 loop: LoopGetter = no_loop) -> tuple[Outputs, Optional[MqttSink]]:
    """The service's outputs with only MQTT configured (no results log), and the MQTT sink among them."""
    outputs = Outputs.open(ServiceConfig(results=ResultsConfig(path=None), mqtt=config), pipeline, events, loop)
    return outputs, next((sink for sink in outputs.sinks.sinks if isinstance(sink, MqttSink)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=int, default=20000, help="results for the throughput run")
    add_round_options(parser, frames=3000, paced_frames=300, rounds=5, modes="MQTT off and on")
    args = parser.parse_args()
    pipeline = Pipeline.load("digits")
    _, images = sample_frames("digits")
    with tempfile.TemporaryDirectory() as folder:
        broker, port = start_broker(Path(folder))
        try:
            print(f"paho-mqtt {paho_version()}, python {sys.version.split()[0]}")
            for _ in range(3):
                print(throughput(port, pipeline, Frame(images[0], time.time(), 0, "memory"), args.results))
            for fps, count in ((0.0, args.frames), (30.0, args.paced_frames)):
                times: dict[bool, list[float]] = {False: [], True: []}
                for _ in range(args.rounds):
                    for mqtt in (False, True):
                        times[mqtt].append(frame_ms(pipeline, images, count, port, mqtt, fps))
                off, on = (statistics.median(times[mqtt]) for mqtt in (False, True))
                pace = f"paced at {fps:g} frames/s" if fps else "unpaced"
                print(f"loop frame time, {pace}, {count} frames x {args.rounds} rounds: MQTT off median {off:.3f} ms "
                      f"{_spread(times[False])}, on {on:.3f} ms {_spread(times[True])}: {(on / off - 1) * 100:+.1f}%")
        finally:
            broker.terminate()
            broker.wait(10)


def _spread(values: list[float]) -> str:
    return "(" + ", ".join(f"{value:.3f}" for value in values) + ")"


if __name__ == "__main__":
    main()
