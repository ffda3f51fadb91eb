"""What the user sees while the trainer works: our progress on the terminal, TensorFlow's chatter in a log file.

TensorFlow and its converter print dozens of lines of their internals (``TensorSpec(...)``, "Saved
artifact at ...", oneDNN notices, converter warnings) from Python and from C++ alike. ``quiet_console``
points file descriptors 1 and 2 at a log file for the whole command and hands back the terminal
for our own lines (``shared.progress``); ``--verbose`` keeps everything on the console instead.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, TextIO


@contextmanager
def quiet_console(log_file: Optional[Path]) -> Iterator[TextIO]:
    """Yield the stream for our own lines; meanwhile everything else written to fd 1 and 2 goes to ``log_file``.

    With ``log_file`` None nothing is redirected and the stream is stdout.
    """
    if log_file is None:
        yield sys.stdout
        return
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", errors="replace")
    with open(log_file, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            terminal.close()
