"""Gymnasium's Reacher-v5 with what a task adds: ``info["is_success"]`` and success poses.

Test-only; ``gymnasium.make("tests.success_envs:SuccessReacher-v0")`` imports this module,
which registers the env (the ``module:EnvId`` form a user's own task takes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv
from gymnasium.envs.registration import register, registry
from stable_baselines3.common.callbacks import BaseCallback

SUCCESS_DISTANCE = 0.03  # fingertip to target, metres


class SuccessReacher(ReacherEnv):
    """Reacher-v5; success is the fingertip within 3 cm of the target (from ``reward_dist``)."""

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        info["is_success"] = -info["reward_dist"] < SUCCESS_DISTANCE
        return obs, reward, terminated, truncated, info

    def set_random_success_state(self, rng: np.random.Generator) -> np.ndarray:
        """A random arm pose with the target under its fingertip."""
        qpos = self.init_qpos.copy()
        qpos[:2] = rng.uniform(-np.pi, np.pi, 2)
        self.set_state(qpos, np.zeros(self.model.nv))
        qpos[2:] = self.get_body_com("fingertip")[:2]
        self.set_state(qpos, np.zeros(self.model.nv))
        return self._get_obs()


if "SuccessReacher-v0" not in registry:
    register("SuccessReacher-v0", entry_point=SuccessReacher, max_episode_steps=50)


class FailsOnOddSeeds(BaseCallback):
    """A sweep callback that makes every trial with an odd seed fail as training starts."""

    def _on_training_start(self) -> None:
        if self.model.seed is not None and self.model.seed % 2:
            raise RuntimeError(f"seed {self.model.seed} fails on purpose")

    def _on_step(self) -> bool:
        return True
