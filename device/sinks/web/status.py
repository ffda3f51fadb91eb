"""What the web view reports: ``/api/status`` as JSON, ``/metrics`` for Prometheus, ``/healthz``.

All three read the same things: the loop's counters (through ``WebView.loop``), the web view's
own counts, the results log's size and the CPU's temperature where ``/sys/class/thermal`` has it.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from piclassify.device.sinks.web import metrics as m
from piclassify.device.sinks.web.history import log_size
from piclassify.device.sinks.web.state import WebState
from piclassify.shared.contract.result import STAGES

THERMAL = Path("/sys/class/thermal")
CPU_ZONES = ("cpu-thermal", "cpu_thermal", "x86_pkg_temp", "soc_thermal", "cpu")


def cpu_temperature(root: Path = THERMAL) -> Optional[float]:
    """Degrees Celsius of the CPU's thermal zone (the first zone if none is named for the CPU), or None."""
    zones = []
    try:
        for zone in sorted(root.glob("thermal_zone*")):
            try:
                kind = (zone / "type").read_text().strip()
                millidegrees = int((zone / "temp").read_text().strip())
            except (OSError, ValueError):
                continue
            zones.append((kind, millidegrees / 1000.0))
    except OSError:
        return None
    for kind, degrees in zones:
        if any(name in kind.lower() for name in CPU_ZONES):
            return degrees
    return zones[0][1] if zones else None


def healthy(state: WebState) -> bool:
    """Frames flow within the watchdog's interval (see ``FrameLoop.frames_flowing``)."""
    loop = state.view.loop()
    return loop is not None and loop.frames_flowing()


def status(state: WebState, streams: int, events: int) -> dict[str, Any]:
    """The page's status panel, and ``/api/status``."""
    view, loop = state.view, state.view.loop()
    with state.changed:
        counts = dict(sorted(state.counts.items(), key=lambda item: -item[1]))
        delivery = state.delivery
    last = delivery.result.record() if delivery is not None else None
    log = view.results_log
    return {
        "model": view.model,
        "accuracy": view.measured[0] if view.measured else None,
        "accuracy_on": view.measured[1] if view.measured else None,
        "input": list(view.input_size),
        "runtime": view.runtime,
        "source": loop.source.name if loop is not None and loop.source is not None else view.source,
        "mode": view.mode,
        "uptime_s": round(time.monotonic() - loop.counts.started, 1) if loop is not None else 0.0,
        "fps": round(state.fps(), 2),  # every frame classified, a second, over the last two: the one rate shown
        "frames": loop.counts.classified if loop is not None else state.seq,
        "shown": loop.counts.shown if loop is not None else 0,
        "nothing_in_view": loop.counts.nothing if loop is not None else 0,
        "skipped": loop.counts.skipped if loop is not None else 0,
        "camera_errors": loop.counts.camera_errors if loop is not None else 0,
        "healthy": healthy(state),
        "status": loop.status_text(with_fps=False) if loop is not None else "starting",
        "cpu_temperature_c": cpu_temperature(),
        "results_log": {"path": str(log), "bytes": log_size(log)} if log is not None else None,
        "counts": counts,
        "counts_since": datetime.fromtimestamp(state.counts_since, timezone.utc).isoformat(timespec="seconds"),
        "last": last,
        "streams": streams,
        "event_streams": events,
    }


def metrics(state: WebState, streams: int) -> list[m.Metric]:
    """Everything ``/metrics`` shows, prefixed ``piclassify_`` when rendered."""
    view, loop = state.view, state.view.loop()
    with state.changed:
        counts = dict(state.counts)
        stage_sum, stage_count = dict(state.stage_sum), state.stage_count
        sent, dropped, encoded = state.stream_sent, state.stream_dropped, state.encoded
    families = [
        m.gauge("info", "the model, runtime and source in use (always 1)", 1, model=view.model,
                runtime=view.runtime, source=view.source, mode=view.mode),
        m.gauge("uptime_seconds", "seconds since the loop started",
                round(time.monotonic() - loop.counts.started, 3) if loop is not None else 0.0),
        m.counter("frames_total", "frames classified", loop.counts.classified if loop is not None else state.seq),
        m.Metric("results_total", "counter", "results with a label, per label (uncertain ones included)",
                 [("", {"label": label}, count) for label, count in sorted(counts.items())]),
        m.counter("nothing_in_view_total", "frames with nothing in view",
                  loop.counts.nothing if loop is not None else 0),
        m.counter("frames_skipped_total", "frames that could not be read or classified",
                  loop.counts.skipped if loop is not None else 0),
        m.counter("camera_errors_total", "times the camera was lost or could not be opened",
                  loop.counts.camera_errors if loop is not None else 0),
        m.Metric("stage_seconds", "summary", "time per frame in each stage of the pipeline",
                 [sample for stage in STAGES for sample in (
                     ("_sum", {"stage": stage}, stage_sum[stage] / 1000.0),
                     ("_count", {"stage": stage}, stage_count))]),
        m.counter("stream_frames_sent_total", "live-stream frames sent to clients", sent),
        m.counter("stream_frames_dropped_total", "live-stream frames a client never got because a newer frame "
                  "replaced them first (the stream's fps cap, or a slow client)", dropped),
        m.counter("stream_frames_encoded_total", "frames JPEG-encoded (once per frame for all clients)", encoded),
        m.gauge("stream_clients", "live streams being served now", streams),
        m.gauge("frames_flowing", "1 while frames arrive within the watchdog interval (as /healthz)",
                1 if healthy(state) else 0),
    ]
    temperature = cpu_temperature()
    if temperature is not None:
        families.append(m.gauge("cpu_temperature_celsius", "the CPU's temperature", temperature))
    if view.results_log is not None:
        size = log_size(view.results_log)
        if size is not None:
            families.append(m.gauge("results_log_bytes", "size of the current results log file", size))
    return families
