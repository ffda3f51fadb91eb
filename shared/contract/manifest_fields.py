"""Every manifest field's JSON type and range, checked before a ``Manifest`` is built from it.

A manifest is a file a person can edit: ``"threshold": null``, ``"input": []`` or ``"metrics": 3``
must be one line naming the field, never a crash later in ``piclassify info`` or in the service.
The types come from the ``Manifest`` dataclasses themselves, so a field added there (``reject``,
``table``) is checked without touching this module; ``RANGES`` says what a type cannot. Written
here rather than with a schema library because it is this short and the Pi installs nothing more.
"""

from __future__ import annotations

import collections.abc
import math
import re
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Callable, Mapping, Optional

from piclassify.shared.errors import ManifestError


class _Invalid(ValueError):
    """A value check failed; the message completes "<field> must be ..."."""


def check_fields(data: Any, manifest: type, schema_version: int) -> None:
    """``ManifestError`` naming the first field of ``data`` (parsed JSON) whose type or range is wrong.

    ``manifest`` is the ``Manifest`` dataclass; it is passed in, so that this module stays below it.
    """
    if not isinstance(data, dict):
        raise ManifestError(f"the manifest must be a JSON object, got {_show(data)}")
    version = data.get("schema_version")
    if isinstance(version, bool) or version != schema_version:
        raise ManifestError(f"schema_version {version!r} is not supported (this piclassify reads {schema_version})")
    _check_object(manifest, data, "")
    _check_scaling(data)


# -- by type -------------------------------------------------------------------------------------

def _check_object(cls: type, value: Any, prefix: str) -> None:
    if not isinstance(value, dict):
        raise ManifestError(f"{prefix.rstrip('.') or 'the manifest'} must be a JSON object, got {_show(value)}")
    known = {f.name: f for f in fields(cls)}
    for key in value:
        if key not in known:
            raise ManifestError(f"unknown field '{prefix}{key}'")
    hints = typing.get_type_hints(cls)
    for name, declared in known.items():
        if name not in value:
            if declared.default is MISSING and declared.default_factory is MISSING:
                raise ManifestError(f"missing field '{prefix}{name}'")
            continue
        _check_value(hints[name], value[name], prefix + name)


def _check_value(hint: Any, value: Any, path: str) -> None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return
        hint = next(arg for arg in args if arg is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and is_dataclass(hint):
        _check_object(hint, value, path + ".")
    elif origin is tuple:
        if not isinstance(value, list):
            raise ManifestError(f"{path} must be a list, got {_show(value)}")
        for index, item in enumerate(value):
            _check_value(args[0], item, f"{path}[{index}]")
    elif origin in (collections.abc.Mapping, dict):
        if not isinstance(value, dict):
            raise ManifestError(f"{path} must be a JSON object, got {_show(value)}")
        for key, item in value.items():
            _check_value(args[1], item, f"{path}.{key}")
    elif hint is not Any and not _is(hint, value):
        raise ManifestError(f"{path} must be {_NAMES[hint]}, got {_show(value)}")
    check = _range_for(path)
    if check is not None:
        try:
            check(value)
        except _Invalid as error:
            raise ManifestError(f"{path} must be {error}, got {_show(value)}") from None


_NAMES = {str: "a string", bool: "true or false", int: "a whole number", float: "a finite number"}


def _is(kind: type, value: Any) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# -- by field: what a type cannot say ------------------------------------------------------------

def _between(low: float, high: float) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not low <= value <= high:
            raise _Invalid(f"from {low:g} to {high:g}")
    return check


def text_problem(value: str) -> Optional[str]:
    """What a name or label must be, when ``value`` is not (it completes "... must be"); None when it is one.

    Names and labels reach logs, terminals, MQTT topics and web pages: printable text, one line, bounded.
    """
    if not value.strip():
        return "a non-empty string"
    if not value.isprintable() or len(value) > 200:
        return "printable text of at most 200 characters (no newline or control character)"
    return None


def _text(value: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        raise _Invalid(problem)


def _labels(value: list) -> None:
    if len(set(value)) != len(value):
        raise _Invalid("distinct labels")


def _shape(value: list) -> None:
    if not 1 <= len(value) <= 4:
        raise _Invalid("a list of 1 to 4 sizes")


def _sha256(value: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise _Invalid("64 lowercase hex digits")


def _metric(value: Any) -> None:
    """A number, a string, null, or a table of them (``nothing_in_view``: several rates measured together)."""
    if isinstance(value, dict):
        for item in value.values():
            _metric(item)
    elif not (value is None or isinstance(value, str) or _is(float, value)):
        raise _Invalid("a number, a string, or a table of them")


def _positive(value: Any) -> None:
    if not value > 0:
        raise _Invalid("above 0")


def _fraction(value: Any) -> None:
    if not (_is(float, value) and 0 <= value <= 1):
        raise _Invalid("a number from 0 to 1")


RANGES: dict[str, Callable[[Any], None]] = {
    "name": _text,
    "labels": _labels,
    "labels[]": _text,
    "height": _between(1, 8192),
    "width": _between(1, 8192),
    "channels": _between(1, 4),
    "input.shape": _shape,
    "input.shape[]": _between(1, 65536),
    "output.shape": _shape,
    "output.shape[]": _between(1, 65536),
    "input.quantization.scale": _between(0, math.inf),
    "output.quantization.scale": _between(0, math.inf),
    "input.quantization.zero_point": _between(-2 ** 31, 2 ** 31 - 1),
    "output.quantization.zero_point": _between(-2 ** 31, 2 ** 31 - 1),
    "model_file": _text,
    "sha256": _sha256,
    "threshold": _between(0, 1),
    "scaling.mean[]": _between(-65536, 65536),
    "scaling.std[]": _positive,
    "reject.min_contrast": _between(0, 255),
    "reject.min_separation": _between(0, 255),
    "reject.min_size": _between(0, 1),
    "reject.min_score": _between(0, 1),
    "reject.background_threshold": _between(0.5, 1),
    "reject.min_similarity": _between(0, 1),
    "reject.floor_similarity": _between(0, 1),
    "reject.sure_score": _between(0, 1),
    "reject.min_class_mass": _between(0, 1),
    "reject.sure_class_mass": _between(0, 1),
    "backbone.model_file": _text,
    "backbone.sha256": _sha256,
    "backbone.size": _between(32, 1024),
    "head.file": _text,
    "head.sha256": _sha256,
    "head.neighbours": _between(1, 1000),
}
for _tensor in ("backbone.input", "backbone.features", "backbone.logits"):
    RANGES.update({f"{_tensor}.shape": _shape, f"{_tensor}.shape[]": _between(1, 65536),
                   f"{_tensor}.quantization.scale": _between(0, math.inf),
                   f"{_tensor}.quantization.zero_point": _between(-2 ** 31, 2 ** 31 - 1)})


def _range_for(path: str) -> Optional[Callable[[Any], None]]:
    """The range check of a field (list items share one: ``labels[]``); every metric is a number or a string."""
    if path.startswith("metrics."):
        return _fraction if path.endswith(("_accuracy", "_agreement")) else _metric
    return RANGES.get(re.sub(r"\[\d+\]", "[]", path))


def _check_scaling(data: Mapping[str, Any]) -> None:
    """minmax needs bounds, one pair per channel (or one for all) of an image, with no maximum below its minimum;
    meanstd a mean and a std, one for every channel or one per channel."""
    scaling = data["scaling"]
    low, high = scaling.get("minimum", []), scaling.get("maximum", [])
    if scaling.get("mode", "unit") == "meanstd":
        _check_per_channel(data, "mean", "std")
    if scaling.get("mode", "unit") != "minmax":
        return
    if not low or len(low) != len(high):
        raise ManifestError("scaling.minimum and scaling.maximum must be lists of the same, non-zero length "
                            "for minmax scaling")
    if data.get("table") is None:
        _check_per_channel(data, "minimum", "maximum")
    for index, (lo, hi) in enumerate(zip(low, high)):
        if hi < lo:
            raise ManifestError(f"scaling.maximum[{index}] ({hi:g}) is below scaling.minimum[{index}] ({lo:g})")


def _check_per_channel(data: Mapping[str, Any], *keys: str) -> None:
    """Each of the scaling's ``keys`` holds one value for every channel, or one per channel."""
    channels = data["channels"]
    for key in keys:
        count = len(data["scaling"].get(key, []))
        if count not in (1, channels):
            counts = " or ".join(str(n) for n in sorted({1, channels}))
            raise ManifestError(f"scaling.{key} must have {counts} value(s) for {channels} channel(s), not {count}")
