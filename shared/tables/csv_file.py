"""CSV rows and number cells for tabular models, read the same way by the trainer and the device.

Every problem names the file, the row (counted from 1 after the header, blank lines skipped)
with its line in the file, and the column.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from piclassify.shared.errors import PiclassifyError
from piclassify.shared.files.regular_file import open_regular

FLOAT32_MAX = 3.4028234663852886e38


class TableError(PiclassifyError):
    """A CSV file, a row or a value cannot be read as the numbers a tabular model needs."""


def read_csv(path: Path) -> tuple[tuple[str, ...], list[tuple[int, list[str]]]]:
    """The header (stripped names) and (line number, cells) for each non-blank data row."""
    path = Path(path)
    rows = []
    try:
        with io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", newline="") as f:  # a FIFO would hang
            reader = csv.reader(f)
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    rows.append((reader.line_num, cells))
    except FileNotFoundError:
        raise TableError(f"{path}: file not found") from None
    except OSError as exc:
        raise TableError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TableError(f"{path}: cannot read it as CSV ({exc})") from None
    if not rows:
        raise TableError(f"{path}: empty file; expected a header line, then rows")
    header = tuple(cell.strip() for cell in rows[0][1])
    if "" in header or len(set(header)) != len(header):
        raise TableError(f"{path}: the header needs distinct, non-empty column names, got {','.join(header)}")
    for number, (line, cells) in enumerate(rows[1:], start=1):
        if len(cells) != len(header):
            raise TableError(f"{path}: row {number} (line {line}) has {len(cells)} cells; the header has {len(header)}")
    return header, rows[1:]


def cell_place(path: Path, row: int, line: int, column: str) -> str:
    return f"{path}: row {row} (line {line}), column {column!r}"


def finite_number(text: str, where: str) -> float:
    """A finite float from a cell or a typed value, or ``TableError`` saying ``where`` and why."""
    text = text.strip()
    if not text:
        raise TableError(f"{where} is empty")
    try:
        value = float(text)
    except ValueError:
        raise TableError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise TableError(f"{where}: {text!r} is not a finite number")
    if abs(value) > FLOAT32_MAX:  # the model computes in float32: this would be infinite there
        raise TableError(f"{where}: {text!r} is beyond float32's range (+-{FLOAT32_MAX:.3g})")
    return value
