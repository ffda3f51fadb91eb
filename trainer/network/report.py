"""The evaluation report's picture of the worst mistakes (the confusion matrix is ``shared.confusion``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from piclassify.shared.files.atomic_file import write_atomically


def save_worst_mistakes_png(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray,
                            labels: Sequence[str], path: Path, count: int = 25) -> int:
    """A grid of the most confidently wrong predictions, each titled 'true -> predicted (score)'."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wrong = np.flatnonzero(y_pred != y_true)
    worst = wrong[np.argsort(-probabilities[wrong, y_pred[wrong]], kind="stable")][:count]
    columns = 5
    rows = max(1, int(np.ceil(len(worst) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, worst):
        ax.imshow(images[i], cmap="gray" if images[i].ndim == 2 else None)
        ax.set_title(f"{labels[y_true[i]]} -> {labels[y_pred[i]]}\n({probabilities[i, y_pred[i]]:.2f})", fontsize=8)
    fig.suptitle("most confident mistakes (true -> predicted)")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    write_atomically(Path(path), png.getvalue())
    plt.close(fig)
    return len(worst)
