"""Reward modes (``--reward``): what a run's reward reads and whether the classifier learns and asks.

Each mode is a :class:`RewardMode` built from the run's config by the builder registered under
its name in ``reward_learning.reward.REWARD_MODES``. :class:`~reward_learning.run.training.TrainingRun` reads only the
built mode: the reward function it makes, whether a classifier-update callback runs (and how
often, on which failures) and whether the run asks questions. A new mode is one
``REWARD_MODES.register`` call, in the reward's menu or from outside the package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.vice import ClassifierReward, PixelL2Reward, RewardFn

if TYPE_CHECKING:
    from reward_learning.run.settings import TrainConfig


@dataclass(frozen=True)
class ClassifierUpdates:
    """How the success classifier learns during a run (VICE)."""

    every: int | None
    """Env steps between updates; ``None``: trained once, then frozen."""
    policy_negatives: str
    """``"replay"`` or ``"exploration"``: which policy frames count as failures."""


@dataclass(frozen=True)
class RewardMode:
    """A reward mode, built: its reward function, classifier updates and questions."""

    make_reward: Callable[[SuccessClassifier, np.ndarray], RewardFn | None]
    """``(classifier, goal images uint8 (N, H, W, 3))`` to the reward of a frame; ``None``: the
    env's own ground-truth success is the reward."""
    classifier_updates: ClassifierUpdates | None = None
    """``None``: the classifier is not trained (nor saved with checkpoints)."""
    asks: bool = False
    """Whether the run asks the oracle about frames (RAQ)."""


def _classifier_reward(config: TrainConfig) -> Callable[[SuccessClassifier, np.ndarray], RewardFn]:
    return lambda classifier, goals: ClassifierReward(
        classifier, scale=config.reward_scale, form=config.reward_form
    )


def vice_raq(config: TrainConfig) -> RewardMode:
    """VICE-RAQ: the classifier's reward, updated as VICE does, plus success queries."""
    updates = ClassifierUpdates(config.classifier_every, config.policy_negatives)
    return RewardMode(_classifier_reward(config), updates, asks=True)


def vice(config: TrainConfig) -> RewardMode:
    """VICE: the classifier's reward, updated against the whole replay buffer, no queries."""
    updates = ClassifierUpdates(config.classifier_every, "replay")  # as published
    return RewardMode(_classifier_reward(config), updates)


def frozen_classifier(config: TrainConfig) -> RewardMode:
    """The naive baseline: a classifier trained once on goals vs random-policy frames."""
    return RewardMode(_classifier_reward(config), ClassifierUpdates(None, config.policy_negatives))


def sparse(config: TrainConfig) -> RewardMode:
    """Ground-truth success from the env: the upper reference."""
    return RewardMode(lambda classifier, goals: None)


def pixel_l2(config: TrainConfig) -> RewardMode:
    """Distance to the mean goal image, in pixels: a baseline without learning."""
    return RewardMode(
        lambda classifier, goals: PixelL2Reward(goals.astype(np.float32).mean(0) / 255)
    )
