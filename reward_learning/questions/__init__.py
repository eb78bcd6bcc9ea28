"""The questions: uncertainty scores and strategies, oracles, the label store, windows.

This module is the questions' menu, what a run may choose by name; it imports neither torch nor
MuJoCo, so the command line reads it for its choices and ``--help``. Builders are entry points,
imported when a run builds one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reward_learning.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from reward_learning.questions.answering import Answering

QUERY_STRATEGIES: Registry[tuple[np.ndarray, np.ndarray]] = Registry(
    "query strategy", "--query-strategy"
)
"""Query strategies by name: each a ``questions.queries.ScoreFn``."""
QUERY_STRATEGIES.register(
    "most-likely-success", "reward_learning.questions.queries:most_likely_success", "the paper's"
)
QUERY_STRATEGIES.register(
    "least-confident", "reward_learning.questions.queries:least_confident", "uncertainty"
)
QUERY_STRATEGIES.register("entropy", "reward_learning.questions.queries:entropy", "uncertainty")
QUERY_STRATEGIES.register(
    "bald", "reward_learning.questions.queries:bald", "BALD over MC-dropout passes"
)

ORACLES: Registry[Answering] = Registry("oracle", "--oracle")
"""Who answers, by name: each builder takes ``(TrainConfig, truth, view)``
(``questions.answering``)."""
ORACLES.register(
    "simulated", "reward_learning.questions.answering:simulated", "ground truth, for benchmarks"
)
ORACLES.register("human", "reward_learning.questions.answering:human", "you, in a window")
ORACLES.register(
    "later", "reward_learning.questions.answering:later", "you, afterwards: reward-learning label"
)
