"""The evaluation report: per-class accuracy printed, confusion matrix and worst mistakes as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class_lines(matrix: np.ndarray, labels: Sequence[str]) -> list[str]:
    """One line per class: label, correct/total, accuracy; what a person reads in the terminal."""
    width = max(len(label) for label in labels)
    lines = []
    for i, label in enumerate(labels):
        total = int(matrix[i].sum())
        correct = int(matrix[i, i])
        share = 100.0 * correct / total if total else 0.0
        lines.append(f"  {label:<{width}}  {correct:5d}/{total:<5d}  {share:6.2f}%")
    return lines


def save_confusion_png(matrix: np.ndarray, labels: Sequence[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.6 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = matrix.max() / 2
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > threshold else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return len(worst)
