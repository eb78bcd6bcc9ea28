"""What a run showed and asked, as pictures: ``goals.png`` and ``queries.png``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reward_learning.figures import figure
from reward_learning.labels import StoredLabel

COLUMNS = 8
ANSWER_NAMES = {1: "success", 0: "failure", None: "pending"}


def _grid(images: Sequence[np.ndarray], titles: Sequence[str], title: str, path: Path) -> Path:
    rows = max(1, -(-len(images) // COLUMNS))
    size = (COLUMNS * 1.4, rows * 1.8)
    with figure(path, rows, COLUMNS, figsize=size, squeeze=False) as (fig, axes):
        for ax in axes.flat:
            ax.axis("off")
        for ax, image, text in zip(axes.flat, images, titles, strict=False):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(text, fontsize=6)
        fig.suptitle(title, fontsize=9)
    return path


def plot_goals(goals: np.ndarray, path: Path) -> Path:
    """The goal images uint8 ``(N, H, W, 3)`` the classifier's positives start from."""
    titles = [f"goal {i}" for i in range(len(goals))]
    return _grid(list(goals), titles, f"{len(goals)} goal images", path)


def plot_queries(asked: Sequence[StoredLabel], path: Path) -> Path:
    """Every frame asked about: its frame key (in arrival order), the answer, and P(success) when it was asked."""
    titles = [
        f"frame {a.key}: {ANSWER_NAMES.get(a.label, a.label)}\n"
        + ("" if a.probability is None else f"p={a.probability:.2f} ")
        + a.source
        for a in asked
    ]
    answered = sum(a.label is not None for a in asked)
    title = f"{len(asked)} frames asked, {answered} answered"
    return _grid([a.image for a in asked], titles, title, path)
