"""Pool-based active learning on top of the uncertainty core.

The learner owns the labelled set and an estimator; it never sees pool labels. ``query``
scores a pool and picks the items to ask about; ``teach`` adds answers and refits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from reward_learning import uncertainty


class Estimator(Protocol):
    """Anything with scikit-learn's ``fit`` / ``predict_proba``."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Any:
        """Fit on items ``x`` (shape ``(N, ...)``) and integer labels ``y`` (shape ``(N,)``)."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, shape ``(N, C)``."""


@runtime_checkable
class StochasticEstimator(Protocol):
    """An estimator that also gives ``K`` stochastic passes (MC dropout, an ensemble)."""

    def predict_proba_passes(self, x: np.ndarray, n_passes: int) -> np.ndarray:
        """Class probabilities of ``n_passes`` stochastic passes, shape ``(K, N, C)``."""


Retrain = Literal["scratch", "warm"]


class ActiveLearner:
    """Pool-based learner: ``query(pool, n)`` picks items, ``teach(x, y)`` learns their labels.

    Args:
        make_estimator: builds a fresh, unfitted estimator.
        x_initial: initial labelled items, shape ``(N0, ...)``.
        y_initial: their labels, shape ``(N0,)``.
        strategy: a name from :data:`reward_learning.uncertainty.STRATEGIES`.
        retrain: ``"scratch"`` builds and fits a new estimator on all labels after each
            ``teach``; ``"warm"`` keeps fitting the same estimator (cheaper, can overfit
            early labels).
        n_passes: stochastic passes for ``bald`` (the estimator must be a
            :class:`StochasticEstimator`).
        diversity: when set, batch-aware selection: an item closer to an earlier pick of the
            same query than ``diversity`` times the median pairwise distance of the pool's
            embeddings is skipped (see :func:`~reward_learning.uncertainty.select_diverse`).
            Embeddings are the estimator's ``embed(x)`` when it has one, else the flattened items.
        rng: random generator for the ``random`` strategy.
    """

    def __init__(
        self,
        make_estimator: Callable[[], Estimator],
        x_initial: np.ndarray,
        y_initial: np.ndarray,
        strategy: str = "least-confident",
        *,
        retrain: Retrain = "scratch",
        n_passes: int = 10,
        diversity: float | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        uncertainty.check_strategy(strategy)
        if retrain not in ("scratch", "warm"):
            raise ValueError(f"retrain={retrain!r}: expected 'scratch' or 'warm'")
        self.make_estimator = make_estimator
        self.strategy = strategy
        self.retrain = retrain
        self.n_passes = n_passes
        self.diversity = diversity
        self.rng = rng or np.random.default_rng()
        self.x_labelled = np.asarray(x_initial)
        self.y_labelled = np.asarray(y_initial)
        self.estimator = make_estimator()
        if strategy == "bald" and not isinstance(self.estimator, StochasticEstimator):
            raise TypeError("strategy 'bald' needs an estimator with predict_proba_passes()")
        self.estimator.fit(self.x_labelled, self.y_labelled)

    @property
    def n_labels(self) -> int:
        """How many labelled items the estimator was fitted on."""
        return len(self.y_labelled)

    def probabilities(self, pool: np.ndarray) -> np.ndarray:
        """What the scores are computed from: ``(K, N, C)`` for ``bald``, else ``(N, C)``."""
        if self.strategy == "bald":
            assert isinstance(self.estimator, StochasticEstimator)
            return self.estimator.predict_proba_passes(pool, self.n_passes)
        return self.estimator.predict_proba(pool)

    def query(self, pool: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Pick the ``n`` most informative pool items.

        Args:
            pool: unlabelled items, shape ``(N, ...)``.
            n: how many to pick.

        Returns:
            ``(indices into pool, scores)``, best first.
        """
        probs = np.empty((len(pool), 0)) if self.strategy == "random" else self.probabilities(pool)
        scores = uncertainty.score(self.strategy, probs, self.rng)
        if self.diversity is None:
            return uncertainty.select_top(scores, n)
        embed = getattr(self.estimator, "embed", None)
        embeddings = embed(pool) if callable(embed) else pool.reshape(len(pool), -1)
        radius = self.diversity * uncertainty.median_distance(embeddings, self.rng)
        return uncertainty.select_diverse(scores, embeddings, n, radius)

    def teach(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add labelled items (shapes ``(M, ...)`` and ``(M,)``) and refit per ``retrain``."""
        if len(x) != len(y):
            raise ValueError(f"{len(x)} items but {len(y)} labels")
        self.x_labelled = np.concatenate([self.x_labelled, x])
        self.y_labelled = np.concatenate([self.y_labelled, y])
        if self.retrain == "scratch":
            self.estimator = self.make_estimator()
        self.estimator.fit(self.x_labelled, self.y_labelled)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Fraction of ``x`` whose most probable class is ``y``."""
        return float(np.mean(self.estimator.predict_proba(x).argmax(-1) == y))
