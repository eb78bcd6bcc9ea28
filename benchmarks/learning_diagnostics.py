"""Where the steps go: the learned reward against the puck's true distance, during training.

A benchmark-only callback for Push. Every ``every`` env steps it reads the replay buffer's
last ``window`` transitions (the policy's own frames) and logs, through SB3's logger
(``logs/progress.csv``, TensorBoard):

* ``diag/reward_distance_corr``: Spearman correlation of the stored (relabelled) reward with
  minus the puck-to-target distance; 1 means the reward orders frames as the distance does.
* ``diag/success_share``: share of those frames with the puck inside the 5 cm disc.
* ``diag/reward_in_success`` and ``diag/reward_outside``: mean reward of each group.

The distance is computed from the state observation (pusher xy, puck xy), which the policy
reads anyway; nothing here feeds back into learning. SB3 itself logs ``train/ent_coef``,
``train/actor_loss`` and ``train/critic_loss``; the query callback logs ``queries/precision``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from stable_baselines3.common.callbacks import BaseCallback

from envs.push import SUCCESS_RADIUS, TARGET
from reward_learning.frames import frame_buffer


class PushRewardDiagnostics(BaseCallback):
    """Logs how well the stored rewards of recent Push frames follow the true distance."""

    def __init__(self, every: int = 1000, window: int = 1000) -> None:
        super().__init__()
        self.every = every
        self.window = window

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.num_timesteps % self.every:
            return
        buffer = frame_buffer(self.model)
        stop = buffer.size()
        start = max(0, stop - self.window)
        rewards = buffer.rewards[start:stop, 0]
        states = buffer.next_observations
        states = states["state"] if isinstance(states, dict) else states
        puck = states[start:stop, 0, 2:4]
        distance = np.linalg.norm(puck - TARGET, axis=1)
        inside = distance < SUCCESS_RADIUS
        if np.ptp(rewards) > 0:
            corr = float(spearmanr(rewards, -distance).statistic)
            self.logger.record("diag/reward_distance_corr", corr)
        self.logger.record("diag/success_share", float(inside.mean()))
        self.logger.record("diag/mean_distance", float(distance.mean()))
        if inside.any():
            self.logger.record("diag/reward_in_success", float(rewards[inside].mean()))
        self.logger.record("diag/reward_outside", float(rewards[~inside].mean()))
