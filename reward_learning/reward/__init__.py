"""The reward: goal images, the success classifier trained on them (VICE), reward modes.

This module is the reward's menu, what a run may choose by name; it imports neither torch nor
MuJoCo, so the command line reads it for its choices and ``--help``. Builders are entry points,
imported when a run builds one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reward_learning.registry import Registry

if TYPE_CHECKING:
    from reward_learning.reward.modes import RewardMode

REWARD_MODES: Registry[RewardMode] = Registry("reward mode", "--reward")
"""Reward modes by name (``reward.modes``): each builder takes the run's ``TrainConfig``."""
REWARD_MODES.register(
    "vice-raq", "reward_learning.reward.modes:vice_raq", "classifier + success queries"
)
REWARD_MODES.register("vice", "reward_learning.reward.modes:vice", "classifier, no queries")
REWARD_MODES.register(
    "classifier", "reward_learning.reward.modes:frozen_classifier", "trained once, frozen"
)
REWARD_MODES.register(
    "sparse", "reward_learning.reward.modes:sparse", "ground-truth success: the upper reference"
)
REWARD_MODES.register(
    "pixel-l2", "reward_learning.reward.modes:pixel_l2", "distance to the mean goal image"
)

REWARD_FORMS: tuple[str, ...] = ("log-p", "logit")
"""How a classifier's P(success) becomes a reward (``reward.vice.ClassifierReward``)."""
POLICY_NEGATIVES: tuple[str, ...] = ("exploration", "replay")
"""Which policy frames the classifier learns as failures (``reward.vice.ClassifierCallback``)."""
RETRAIN_MODES: tuple[str, ...] = ("warm", "scratch")
"""How each classifier update starts (``reward.vice.ClassifierCallback``)."""
