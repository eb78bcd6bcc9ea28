"""What a run showed and asked, as pictures: ``goals.png`` and ``queries.png``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reward_learning.questions.labels import StoredLabel
from reward_learning.run.figures import figure

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


def plot_goals(goals: np.ndarray, path: Path, frames: np.ndarray | None = None) -> Path:
    """The goal images uint8 ``(N, H, W, 3)`` the classifier's positives start from.

    ``frames``: policy frames shown after them, from the next row on (the success check's).
    """
    images, titles = list(goals), [f"goal {i}" for i in range(len(goals))]
    title = f"{len(goals)} goal images"
    if frames is not None:
        images += [np.zeros_like(goals[0])] * (-len(images) % COLUMNS) + list(frames)
        titles += [""] * (len(images) - len(frames) - len(titles)) + ["policy frame"] * len(frames)
        title += f", then {len(frames)} of the policy's frames"
    return _grid(images, titles, title, path)


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
