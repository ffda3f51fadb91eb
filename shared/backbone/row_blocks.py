"""Row-wise work on a (photos x 1000) array a block of rows at a time: the same numbers, a fraction of the memory.

A fit at the example store's maximum (8,000 photos) ranks, exponentiates and compares the backbone's 1,000
ImageNet logits of every photo; done whole, each step held several arrays of 32-64 MB at once.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

ROWS = 1024  # rows per block: a (1024 x 1000) float64 temporary is 8 MB


def by_row_blocks(function: Callable[[slice], np.ndarray], rows: int, block: int = ROWS) -> np.ndarray:
    """``function`` of each block of ``block`` rows (given as a slice), the results joined in order."""
    if rows <= block:
        return function(slice(0, rows))
    return np.concatenate([function(slice(start, min(start + block, rows))) for start in range(0, rows, block)])
