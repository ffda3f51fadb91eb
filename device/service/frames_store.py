"""Saved frames: JPEGs of classified frames in a folder that never grows past ``max_count`` files.

Looking at the frames a model got wrong (or was unsure about) is how the next model gets better;
the bound keeps a months-long run from filling the SD card.
"""

from __future__ import annotations

import logging
import os
import re
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PIL import Image

from piclassify.device.service.config import FramesConfig
from piclassify.shared.errors import PiclassifyError

if TYPE_CHECKING:
    from piclassify.device.frames import Frame
    from piclassify.device.pipeline import Result

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class FrameStoreError(PiclassifyError):
    """The saved-frames folder cannot be created or written."""


class FrameStore:
    """Saves the frames ``config.save`` asks for; deletes the oldest beyond ``config.max_count``."""

    def __init__(self, config: FramesConfig) -> None:
        self.config = config
        self.folder = Path(config.path)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for partial in self.folder.glob("*.part"):  # cut short by a power loss
                partial.unlink()
            # Names start with a fixed-width UTC time, so name order is age order.
            self._saved = deque(sorted(path for path in self.folder.glob("*.jpg")))
        except OSError as error:
            raise FrameStoreError(f"{self.folder}: cannot use frames folder: {error.strerror or error}") from error
        self._prune()

    def wants(self, result: Result) -> bool:
        if self.config.save == "all":
            return True
        return self.config.save == "below" and result.score < self.config.below_score

    def save(self, frame: Frame, result: Result) -> Optional[Path]:
        """Write ``frame`` as ``<UTC time>-<frame id>-<label>.jpg`` if the policy wants it; return its path."""
        if not self.wants(result):
            return None
        stamp = datetime.fromtimestamp(frame.timestamp, timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"{stamp}-{frame.index:08d}-{_UNSAFE.sub('_', result.label)}.jpg"
        partial = path.with_suffix(".part")
        try:
            Image.fromarray(frame.image).save(partial, format="JPEG", quality=self.config.jpeg_quality)
            os.replace(partial, path)
        except OSError as error:
            raise FrameStoreError(f"{path}: cannot save frame: {error.strerror or error}") from error
        self._saved.append(path)
        self._prune()
        return path

    def _prune(self) -> None:
        while len(self._saved) > self.config.max_count:
            oldest = self._saved.popleft()
            try:
                oldest.unlink()
            except FileNotFoundError:
                log.debug("saved frame %s was already gone", oldest)
