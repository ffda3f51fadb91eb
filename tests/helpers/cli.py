"""``piclassify ARGS`` in this process, as a user's shell would see it: its exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from piclassify.device.commands.cli import main


def piclassify(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Exit code (argparse's own exit included), stdout and stderr of ``piclassify ARGS``."""
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err
