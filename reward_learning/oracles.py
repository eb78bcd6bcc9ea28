"""Oracles answer queries: a simulated one that reads ground truth, or a person.

An oracle yields its answers one at a time, so that the caller can store each answer
durably before it uses it (and before the oracle is asked for the next one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np


@dataclass(frozen=True)
class Query:
    """Items shown to an oracle in one round.

    Attributes:
        images: uint8, shape ``(n, H, W)`` (grayscale) or ``(n, H, W, 3)`` (RGB).
        keys: int64, shape ``(n,)``: the caller's ids for the items (pool indices, frame ids).
        probabilities: the model's belief at query time: shape ``(n,)`` for P(success) or
            ``(n, C)`` for classes.
        scores: shape ``(n,)``: the informativeness score that chose each item.
        remaining: labels left in the budget before this query is answered.
    """

    images: np.ndarray
    keys: np.ndarray
    probabilities: np.ndarray
    scores: np.ndarray
    remaining: int

    def __post_init__(self) -> None:
        n = len(self.images)
        for name in ("keys", "probabilities", "scores"):
            assert len(getattr(self, name)) == n, (
                f"query {name} has {len(getattr(self, name))} rows, images {n}"
            )


class Answer(NamedTuple):
    """One answer to one item of a :class:`Query`.

    Attributes:
        position: index of the item in the query.
        label: the class (``1`` success / ``0`` failure, or a digit); ``None`` when skipped.
        undo: ``True`` takes back the previous answer to ``position`` (``label`` is ``None``).
    """

    position: int
    label: int | None
    undo: bool = False


class Oracle(Protocol):
    """Answers queries; stopping early (a person pressing ``q``) just ends the iterator."""

    def ask(self, query: Query) -> Iterator[Answer]:
        """Yield answers to the items of ``query``, in the order they are given."""


class SimulatedOracle:
    """Answers from ground truth, looked up for exactly the keys it is asked about.

    Args:
        truth: maps keys (int64, shape ``(n,)``) to true labels (int, shape ``(n,)``).
        n_classes: number of classes, for drawing wrong answers.
        error_rate: probability of answering a uniformly drawn wrong class (a tired person).
        rng: random generator for the errors.
    """

    def __init__(
        self,
        truth: Callable[[np.ndarray], np.ndarray],
        n_classes: int = 2,
        error_rate: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate={error_rate}: expected a probability in [0, 1]")
        self.truth = truth
        self.n_classes = n_classes
        self.error_rate = error_rate
        self.rng = rng or np.random.default_rng()
        self.asked = 0

    def ask(self, query: Query) -> Iterator[Answer]:
        """Yield the true label of every item, flipped to a wrong class at ``error_rate``."""
        labels = np.asarray(self.truth(query.keys), dtype=np.int64)
        wrong = self.rng.random(len(labels)) < self.error_rate
        shift = self.rng.integers(1, self.n_classes, size=len(labels))
        labels = np.where(wrong, (labels + shift) % self.n_classes, labels)
        for position, label in enumerate(labels):
            self.asked += 1
            yield Answer(position, int(label))
