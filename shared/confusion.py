"""A confusion matrix, as counts, as lines for a terminal, and as a PNG (Pillow, so the Pi can draw it too).

The trainer reports a model's test set with it; ``piclassify evaluate`` reports a user's own photos.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from piclassify.shared.files.atomic_file import write_atomically

CELL = 44  # pixels per matrix cell in the PNG


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """``matrix[true, predicted]`` counts."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def per_class_lines(matrix: np.ndarray, labels: Sequence[str]) -> list[str]:
    """One line per class that has examples: label, correct/total, accuracy; what a person reads in a terminal."""
    width = max(len(label) for label in labels)
    lines = []
    for i, label in enumerate(labels):
        total = int(matrix[i].sum())
        if total:
            right = int(matrix[i, i])
            lines.append(f"  {label:<{width}}  {right:5d}/{total:<5d}  {100.0 * right / total:6.2f}%")
    return lines


HEADER = "true \\ predicted"  # the corner above the row labels, beside the column labels


@dataclass(frozen=True)
class ConfusionLayout:
    """Where everything goes in the PNG, measured in the font's own widths: the row labels' column (``margin``) is as
    wide as the widest label or the corner's header, and the picture as wide as the title, so nothing is cut off."""

    margin: int  # the row labels' width, and the column labels' height
    top: int  # where the first row of cells starts
    size: tuple[int, int]
    title_at: tuple[int, int] = (12, 8)
    columns_at: tuple[int, int] = (0, 24)

    @property
    def header_at(self) -> tuple[int, int]:
        return (12, self.top - 14)


def confusion_layout(labels: Sequence[str], title: str, font) -> ConfusionLayout:
    """The layout of a matrix of ``labels`` under ``title`` in ``font`` (a Pillow font)."""
    widest = max([font.getlength(label) for label in labels] + [font.getlength(HEADER)])
    margin = 12 + 8 + int(np.ceil(widest))
    n = len(labels)
    top = 24 + margin  # the title, then the column labels written sideways
    width = max(margin + n * CELL + 12, 12 + int(np.ceil(font.getlength(title))) + 12)
    return ConfusionLayout(margin, top, (width, top + n * CELL + 12), columns_at=(margin, 24))


def save_confusion_png(matrix: np.ndarray, labels: Sequence[str], title: str, path: Path) -> None:
    """Rows are the true labels, columns the predicted ones; darker blue, more photos."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    layout = confusion_layout(labels, title, font)
    margin, top, n = layout.margin, layout.top, len(labels)
    image = Image.new("RGB", layout.size, "white")
    draw = ImageDraw.Draw(image)
    peak = max(int(matrix.max()), 1)
    for i in range(n):
        draw.text((8, top + i * CELL + CELL // 2 - 5), labels[i], fill="black", font=font)
        for j in range(n):
            count = int(matrix[i, j])
            shade = int(255 - 200 * count / peak)
            box = (margin + j * CELL, top + i * CELL, margin + (j + 1) * CELL - 1, top + (i + 1) * CELL - 1)
            draw.rectangle(box, fill=(shade, shade, 255), outline="lightgray")
            draw.text((box[0] + 6, box[1] + CELL // 2 - 5), str(count), font=font,
                      fill="white" if shade < 128 else "black")
    columns = Image.new("RGB", (margin, n * CELL), "white")
    column_draw = ImageDraw.Draw(columns)
    for j, label in enumerate(labels):  # then turned a quarter left: reading upwards, the first one leftmost
        column_draw.text((4, j * CELL + CELL // 2 - 5), label, fill="black", font=font)
    image.paste(columns.rotate(90, expand=True), layout.columns_at)
    draw.text(layout.title_at, title, fill="black", font=font)  # the words last: nothing is drawn over them
    draw.text(layout.header_at, HEADER, fill="gray", font=font)
    png = io.BytesIO()
    image.save(png, format="PNG")
    write_atomically(Path(path), png.getvalue())
