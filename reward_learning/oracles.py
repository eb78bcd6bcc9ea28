"""Oracles answer queries: a simulated one that reads ground truth, or a person.

An oracle yields its answers one at a time, so that the caller can store each answer
durably before it uses it (and before the oracle is asked for the next one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import gymnasium as gym
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

    source: str  # recorded with every answer: "simulated", "human"

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
        self.source = "simulated"

    def ask(self, query: Query) -> Iterator[Answer]:
        """Yield the true label of every item, flipped to a wrong class at ``error_rate``."""
        labels = np.asarray(self.truth(query.keys), dtype=np.int64)
        wrong = self.rng.random(len(labels)) < self.error_rate
        shift = self.rng.integers(1, self.n_classes, size=len(labels))
        labels = np.where(wrong, (labels + shift) % self.n_classes, labels)
        for position, label in enumerate(labels):
            self.asked += 1
            yield Answer(position, int(label))


class GroundTruthTap(gym.Wrapper[Any, Any, Any, Any]):
    """Takes ground truth out of a training env, so that only the simulated oracle sees it.

    Each step's ``info["is_success"]`` is removed from ``info`` and kept here, indexed by the
    env step count (which is the frame's replay-buffer index), and the env's own reward
    (ground-truth success) is replaced by 0; the learned reward replaces it. This is the one
    place ground truth crosses into learning (DESIGN.md): through :meth:`truth`, for the keys an
    oracle is asked about.

    ``next_key`` is the key of the next step; a resumed run sets it to the buffer's size.
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self._success: dict[int, bool] = {}
        self.next_key = 0
        self.lookups = 0

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; ``info`` comes back without ``is_success`` and the reward is 0."""
        obs, _, terminated, truncated, info = self.env.step(action)
        self._success[self.next_key] = bool(info.pop("is_success"))
        self.next_key += 1
        return obs, 0.0, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env; ``info`` comes back without ``is_success``."""
        obs, info = self.env.reset(**kwargs)
        info.pop("is_success", None)
        return obs, info

    def truth(self, keys: np.ndarray) -> np.ndarray:
        """Ground-truth success (0/1, int64 ``(n,)``) of the frames with these keys."""
        self.lookups += len(keys)
        return np.array([self._success[int(k)] for k in keys], dtype=np.int64)
