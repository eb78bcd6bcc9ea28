"""Who answers a run's questions, and when (``--oracle``): an :class:`Answering`, built.

The builders below are what ``reward_learning.questions.ORACLES`` names. Each takes the run's
``TrainConfig``, the ground-truth lookup by frame key (a simulated person's only window on the
simulator) and the view that draws a frame's scene large for a person. A run asks
``Answering.asks`` in every query round and adds the callback that ``answers_pending`` builds,
which answers the frames a round left pending while training goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reward_learning.questions.labels import LabelStore
from reward_learning.questions.live_labels import DelayedAnswers, LiveLabelWindow, PendingAnswers
from reward_learning.questions.oracles import (
    LaterOracle,
    Oracle,
    SimulatedOracle,
    View,
    success_window_oracle,
)
from reward_learning.questions.queries import QueryCallback
from reward_learning.reward.vice import ClassifierData

if TYPE_CHECKING:
    from reward_learning.run.settings import TrainConfig

Truth = Callable[[np.ndarray], np.ndarray]
"""Ground truth by frame key: int64 ``(n,)`` to 0/1 ``(n,)``."""


@dataclass(frozen=True)
class Answering:
    """Who answers a run's questions, built."""

    asks: Oracle
    """Asked in every query round: it answers at once, or leaves the frames pending."""
    answers_pending: (
        Callable[[LabelStore, ClassifierData, QueryCallback], PendingAnswers] | None
    ) = None
    """Builds the callback that answers pending frames during training; ``None``: they wait for
    ``reward-learning label``."""
    simulated: SimulatedOracle | None = None
    """The simulated person, whose random stream a checkpoint keeps."""


def simulated(config: TrainConfig, truth: Truth, view: View) -> Answering:
    """Ground truth at once, or ``oracle_delay`` env steps after each round."""
    oracle = SimulatedOracle(truth, 2, config.oracle_error, np.random.default_rng(config.seed))
    if not config.oracle_delay:
        return Answering(oracle, simulated=oracle)
    return Answering(
        LaterOracle(),
        lambda store, data, queries: DelayedAnswers(
            store, data, queries, oracle, config.oracle_delay
        ),
        simulated=oracle,
    )


def human(config: TrainConfig, truth: Truth, view: View) -> Answering:
    """A person in an OpenCV window: training waits (``block``) or goes on (``queue``)."""
    if config.human_wait == "block":
        return Answering(success_window_oracle(view=view))
    return Answering(
        LaterOracle(), lambda store, data, queries: LiveLabelWindow(store, data, queries, view=view)
    )


def later(config: TrainConfig, truth: Truth, view: View) -> Answering:
    """Nobody during the run: frames are stored pending for ``reward-learning label``."""
    return Answering(LaterOracle())
