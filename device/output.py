"""How results are shown: one human line, or one JSON object per line (``--json``)."""

from __future__ import annotations

import json

from piclassify.device.pipeline import Result


def result_line(name: str, result: Result) -> str:
    top = ", ".join(f"{label} {score:.2f}" for label, score in result.top)
    return f"{name}: {result.label} ({result.score:.2f})  top-3: {top}  {result.latency_ms:.1f} ms"


def result_json(path: str, result: Result, **extra: object) -> str:
    record = {
        "path": path,
        "label": result.label,
        "index": result.index,
        "score": round(result.score, 5),
        "probabilities": [round(float(p), 5) for p in result.probabilities],
        "latency_ms": round(result.latency_ms, 3),
        **extra,
    }
    return json.dumps(record)
