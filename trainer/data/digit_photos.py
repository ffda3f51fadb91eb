"""Real phone photos of handwritten digits (``digit-photos/``: ``labels.csv`` with ``filename,label,source``).

Where the datasets have them, they are one more way a camera sees digits: the digits recipe calibrates
"nothing in view" on each of their sources beside its rendered kinds, and reports each source held out
(``trainer.nothing_in_view.sources``). They are never learnt from, and never bundled.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np

from piclassify.shared.errors import DatasetError, ImageError
from piclassify.shared.files.imagefile import read_image
from piclassify.trainer.backbone.build import find_folder

FOLDER = "digit-photos"


def digit_photo_sources(data_dir: Optional[Path]) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """``{"real photos (<source>)": (photos, labels)}`` from the first ``digit-photos`` folder found; empty without
    one. Unreadable photos are left out."""
    folder = find_folder(FOLDER, data_dir)
    if folder is None:
        return {}
    try:
        with open(folder / "labels.csv", newline="", encoding="utf-8") as table:
            rows = list(csv.DictReader(table))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{folder / 'labels.csv'}: cannot read the labels: {exc}") from None
    sources: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    inside = folder.resolve()
    for row in rows:
        try:
            path = (folder / row["filename"]).resolve()
            if inside not in path.parents:  # a name in the table must not lead out of the folder
                continue
            photo, label = read_image(path), int(row["label"])
        except (ImageError, KeyError, ValueError, TypeError):
            continue
        name = f"real photos ({row.get('source') or 'unknown'})"
        sources.setdefault(name, ([], []))
        sources[name][0].append(photo)
        sources[name][1].append(label)
    return {name: (photos, np.asarray(labels)) for name, (photos, labels) in sources.items()}
