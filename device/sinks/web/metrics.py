"""The Prometheus text exposition format (version 0.0.4), for the web view's ``/metrics``.

A handful of metrics need no client library: each is a name, a type, a help line and samples,
written as ``name{label="value"} number`` lines. Names are prefixed ``piclassify_``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "piclassify_"


@dataclass(frozen=True)
class Metric:
    """One metric family; ``samples`` are (suffix, labels, value), the suffix "" or ``_sum``/``_count``."""

    name: str
    kind: str  # "counter", "gauge", "summary"
    help: str
    samples: Sequence[tuple[str, Mapping[str, str], float]] = field(default_factory=list)


def counter(name: str, help: str, value: float, **labels: str) -> Metric:
    return Metric(name, "counter", help, [("", labels, value)])


def gauge(name: str, help: str, value: float, **labels: str) -> Metric:
    return Metric(name, "gauge", help, [("", labels, value)])


def render(metrics: Sequence[Metric]) -> str:
    """The exposition text: ``# HELP`` and ``# TYPE`` per family, then its samples."""
    lines = []
    for metric in metrics:
        name = PREFIX + metric.name
        lines.append(f"# HELP {name} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {name} {metric.kind}")
        for suffix, labels, value in metric.samples:
            lines.append(f"{name}{suffix}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape_value(str(value))}"' for key, value in labels.items()) + "}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
