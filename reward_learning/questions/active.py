"""Pool-based active learning on top of the uncertainty core.

The learner owns the labelled set and an estimator; it never sees pool labels. ``query``
scores a pool and picks the items to ask about; ``teach`` adds answers and refits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from reward_learning.questions import uncertainty
from reward_learning.questions.typicality import select_typical


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

COLD_START_SCHEDULES: dict[str, str] = {
    "typiclust-margin": "margin",
    "typiclust-batchbald": "batchbald",
}
"""Cold-start schedules: TypiClust until ``cold_start_labels`` labels, then this strategy."""

STRATEGIES: tuple[str, ...] = (
    *uncertainty.STRATEGIES, "batchbald", "typiclust", *COLD_START_SCHEDULES,
)  # fmt: skip
"""The uncertainty core's scores; BatchBALD's joint selection; TypiClust's typical picks; and
the cold-start schedules (:data:`COLD_START_SCHEDULES`)."""

NEEDS_PASSES = ("bald", "batchbald")
"""Strategies that read an estimator's stochastic passes (``predict_proba_passes``)."""

NEEDS_EMBEDDINGS = ("typiclust", *COLD_START_SCHEDULES)
"""Strategies that cluster embeddings made without labels (the learner's ``embed``)."""


class ActiveLearner:
    """Pool-based learner: ``query(pool, n)`` picks items, ``teach(x, y)`` learns their labels.

    Args:
        make_estimator: builds a fresh, unfitted estimator.
        x_initial: initial labelled items, shape ``(N0, ...)``.
        y_initial: their labels, shape ``(N0,)``.
        strategy: a name from :data:`STRATEGIES`.
        retrain: ``"scratch"`` builds and fits a new estimator on all labels after each
            ``teach``; ``"warm"`` keeps fitting the same estimator (cheaper, can overfit
            early labels).
        n_passes: stochastic passes for ``bald`` and ``batchbald`` (the estimator must be a
            :class:`StochasticEstimator`).
        embed: items ``(N, ...)`` to embeddings ``(N, D)`` for TypiClust, made without labels
            (default: the flattened items).
        cold_start_labels: a cold-start schedule (``typiclust-margin``, ``typiclust-batchbald``)
            picks typical items while fewer labels than this are in hand.
        rng: random generator for ``random`` and BatchBALD's sampled configurations.
        seed: TypiClust's k-means initialization.
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
        embed: Callable[[np.ndarray], np.ndarray] | None = None,
        cold_start_labels: int = 100,
        rng: np.random.Generator | None = None,
        seed: int = 0,
    ) -> None:
        uncertainty.check_strategy(strategy, STRATEGIES)
        if retrain not in ("scratch", "warm"):
            raise ValueError(f"retrain={retrain!r}: expected 'scratch' or 'warm'")
        self.make_estimator = make_estimator
        self.strategy = strategy
        self.retrain = retrain
        self.n_passes = n_passes
        self.embed = embed or (lambda x: np.asarray(x, np.float32).reshape(len(x), -1))
        self.cold_start_labels = cold_start_labels
        self.rng = rng or np.random.default_rng()
        self.seed = seed
        self.x_labelled = np.asarray(x_initial)
        self.y_labelled = np.asarray(y_initial)
        self.estimator = make_estimator()
        stochastic = COLD_START_SCHEDULES.get(strategy, strategy) in NEEDS_PASSES
        if stochastic and not isinstance(self.estimator, StochasticEstimator):
            raise TypeError(f"strategy {strategy!r} needs an estimator with predict_proba_passes()")
        self.estimator.fit(self.x_labelled, self.y_labelled)

    @property
    def n_labels(self) -> int:
        """How many labelled items the estimator was fitted on."""
        return len(self.y_labelled)

    def current_strategy(self) -> str:
        """The strategy of the next query (the cold-start schedule switches at a label count)."""
        after = COLD_START_SCHEDULES.get(self.strategy)
        if after is None:
            return self.strategy
        return "typiclust" if self.n_labels < self.cold_start_labels else after

    def _passes(self, pool: np.ndarray) -> np.ndarray:
        assert isinstance(self.estimator, StochasticEstimator)
        return self.estimator.predict_proba_passes(pool, self.n_passes)

    def query(self, pool: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Pick ``n`` pool items to ask about.

        Args:
            pool: unlabelled items, shape ``(N, ...)``.
            n: how many to pick.

        Returns:
            ``(indices into pool, scores)``, in the order picked.
        """
        strategy = self.current_strategy()
        if strategy == "typiclust":
            return select_typical(self.embed(pool), self.embed(self.x_labelled), n, self.seed)
        if strategy == "batchbald":
            return uncertainty.select_batchbald(self._passes(pool), n, self.rng)
        if strategy == "random":
            probs = np.empty((len(pool), 0))
        else:
            probs = self._passes(pool) if strategy == "bald" else self.estimator.predict_proba(pool)
        return uncertainty.select_top(uncertainty.score(strategy, probs, self.rng), n)

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
