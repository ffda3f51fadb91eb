"""The console sink of ``piclassify run``: a line per result for a person, or the JSON schema with ``--json``."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

from piclassify.device.core.sink import Delivery


class ConsoleSink:
    """Prints each result the loop hands over, except uncertain ones (below ``--min-score``). For photo files, a
    line per file; from a camera or a video, "nothing in view" once when it starts, not for every empty frame after
    it."""

    name = "console"

    def __init__(self, as_json: bool = False, stream: Optional[TextIO] = None) -> None:
        self.as_json = as_json
        self.stream = stream  # None: whatever sys.stdout is when a result comes

    def handle(self, delivery: Delivery) -> None:
        result = delivery.result
        if delivery.uncertain or (result.label is None and not delivery.changed and not delivery.frame.still):
            return
        if self.as_json:
            line = result.json()
        else:
            line = f"{time.strftime('%H:%M:%S', time.localtime(result.time))} #{result.frame} {result.text()}"
        print(line, file=self.stream or sys.stdout, flush=True)

    def close(self) -> None:
        (self.stream or sys.stdout).flush()
