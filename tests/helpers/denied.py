"""A folder its user may not list or search, also when the tests run as root (whom no file mode stops)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Callable

import pytest


def deny(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """``folder`` made mode 000 (the caller restores it). A user who may still list it (root) gets, from the OS calls
    pathlib lists and looks inside folders with, the error a mode of 000 gives anyone else."""
    folder.chmod(0)
    if not os.access(folder, os.R_OK):
        return
    inside = os.path.abspath(folder)

    def denied(call: Callable[..., Any], whole: bool) -> Callable[..., Any]:
        def check(path: Any = ".", *args: Any, **kwargs: Any) -> Any:
            text = os.path.abspath(os.fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else ""
            if text.startswith(inside + os.sep) or (whole and text == inside):
                raise PermissionError(errno.EACCES, "Permission denied", text)
            return call(path, *args, **kwargs)
        return check

    for name, whole in (("listdir", True), ("scandir", True), ("stat", False), ("lstat", False)):
        monkeypatch.setattr(os, name, denied(getattr(os, name), whole))
