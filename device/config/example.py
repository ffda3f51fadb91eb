"""The example config file: every key with its default (or a commented example) and its help.

``systemd/piclassify.toml`` is this text (``piclassify service --example-config`` prints it), so the
documented file can never disagree with what the service reads.
"""

from __future__ import annotations

import json
from dataclasses import Field
from pathlib import Path
from typing import Any, Mapping

from piclassify.device.config.sections import RegionConfig, ServiceConfig, keys, sections

EXAMPLE_HEADER = """\
# piclassify service config (piclassify service --config /etc/piclassify/piclassify.toml).
# Every key is optional: each line below shows its default. Commented-out keys are unset by default.
# An unknown key or a bad value stops the service at start-up with one line naming the key
# (see `journalctl -u piclassify`). `systemctl reload piclassify` (SIGHUP) re-reads this file and the model.
# Made by `piclassify service --example-config`, from the declarations in device/config/sections.py.
"""
_COMMENT_AT = 28


def example_config() -> str:
    """The documented example config: every key with its default (or a commented example) and its help."""
    lines = [EXAMPLE_HEADER]
    lines += [_example_line(f) for f in keys(ServiceConfig).values()]
    for name, cls in sections().items():
        lines += ["", f"[{name}]", f"# {cls.__doc__}"]
        lines += [_example_line(f) for f in keys(cls).values()]
    doc = " ".join(line.strip() for line in (RegionConfig.__doc__ or "").split("\n"))
    lines += ["", "# None by default: the whole frame is classified. " + doc, "# [[region]]"]
    lines += ["# " + _example_line(f, shown=True).replace("\n", "\n# ") for f in keys(RegionConfig).values()]
    return "\n".join(lines) + "\n"


def _example_line(key: Field, shown: bool = False) -> str:
    """``key = default  # help``; a key unset by default is commented out, with its example (``shown``: not)."""
    factory = key.default_factory
    default = factory() if callable(factory) else key.default
    if default is None and shown:
        assignment = f"{key.name} = {key.metadata['example']}"
    elif default is None:
        assignment = f"# {key.name} = {key.metadata['example']}"
    else:
        assignment = f"{key.name} = {_toml(default)}"
    help_lines = key.metadata["help"].split("\n")
    width = max(_COMMENT_AT, len(assignment) + 3)
    out = [f"{assignment:<{width}}# {help_lines[0]}"]
    out += [f"{'':<{width}}# {line}" for line in help_lines[1:]]
    return "\n".join(out)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }" if value else "{}"
    raise TypeError(f"no TOML form for {value!r}")
