"""Gymnasium's Reacher-v5 with what a task adds: ``info["is_success"]`` and success poses.

Test-only; ``gymnasium.make("tests.success_envs:SuccessReacher-v0")`` imports this module,
which registers the env (the ``module:EnvId`` form a user's own task takes).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv
from gymnasium.envs.registration import register, registry
from stable_baselines3.common.callbacks import BaseCallback

SUCCESS_DISTANCE = 0.03  # fingertip to target, metres


class SuccessReacher(ReacherEnv):
    """Reacher-v5; success is the fingertip within 3 cm of the target (from ``reward_dist``).

    Args:
        target_radius: the target sphere's radius in metres, drawn only (Reacher's is 9 mm,
            a pixel or two at 48 px; ``SUCCESS_DISTANCE`` draws the success zone).
        goal_targets: where a success pose puts the target: ``"fingertip"`` (a random arm
            pose, the target moved under its fingertip) or ``"sampled"`` (the target drawn as
            Reacher draws it, the arm posed onto it by inverse kinematics).
        **kwargs: ``ReacherEnv``'s.
    """

    def __init__(
        self, target_radius: float | None = None, goal_targets: str = "fingertip", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if goal_targets not in ("fingertip", "sampled"):
            raise ValueError(f"goal_targets is 'fingertip' or 'sampled', not {goal_targets!r}")
        self.goal_targets = goal_targets
        if target_radius is not None:
            self.model.geom_size[self.model.geom("target").id, 0] = target_radius

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        info["is_success"] = -info["reward_dist"] < SUCCESS_DISTANCE
        return obs, reward, terminated, truncated, info

    def set_random_success_state(self, rng: np.random.Generator) -> np.ndarray:
        """An arm pose with the target under its fingertip (see ``goal_targets``)."""
        qpos = self.init_qpos.copy()
        if self.goal_targets == "sampled":
            qpos[2:] = self._sampled_target(rng)
            qpos[:2] = self._reach(qpos[2:], elbow=rng.choice([-1.0, 1.0]))
        else:
            qpos[:2] = rng.uniform(-np.pi, np.pi, 2)
            self.set_state(qpos, np.zeros(self.model.nv))
            qpos[2:] = self.get_body_com("fingertip")[:2]
        self.set_state(qpos, np.zeros(self.model.nv))
        return self._get_obs()

    @staticmethod
    def _sampled_target(rng: np.random.Generator) -> np.ndarray:
        """A target as ``ReacherEnv.reset_model`` draws one: uniform in a 0.2 m disc."""
        while True:
            target = rng.uniform(-0.2, 0.2, 2)
            if np.linalg.norm(target) < 0.2:
                return target

    def _reach(self, target: np.ndarray, elbow: float) -> np.ndarray:
        """Joint angles ``(2,)`` that put the fingertip on ``target`` (the nearest point the
        two links reach), elbow bent one way (+1) or the other (-1)."""
        upper = self.model.body("body1").pos[0]
        lower = self.model.body("fingertip").pos[0]
        reach = np.clip(np.linalg.norm(target), abs(upper - lower), upper + lower)
        cos_elbow = (reach**2 - upper**2 - lower**2) / (2 * upper * lower)
        bend = elbow * np.arccos(np.clip(cos_elbow, -1.0, 1.0))
        shoulder = np.arctan2(target[1], target[0]) - np.arctan2(
            lower * np.sin(bend), upper + lower * np.cos(bend)
        )
        return np.array([shoulder, bend])


if "SuccessReacher-v0" not in registry:
    register("SuccessReacher-v0", entry_point=SuccessReacher, max_episode_steps=50)


class FailsOnOddSeeds(BaseCallback):
    """A sweep callback that makes every trial with an odd seed fail as training starts."""

    def _on_training_start(self) -> None:
        if self.model.seed is not None and self.model.seed % 2:
            raise RuntimeError(f"seed {self.model.seed} fails on purpose")

    def _on_step(self) -> bool:
        return True


class SequenceObservation(gym.Env[Any, np.ndarray]):
    """Observes a variable-length sequence, which no state vector can hold."""

    metadata = {"render_modes": ["rgb_array"]}
    observation_space = gym.spaces.Sequence(gym.spaces.Discrete(3))
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode


class RendersNothing(gym.Env[np.ndarray, np.ndarray]):
    """Claims rgb_array rendering, yet ``render()`` returns None."""

    metadata = {"render_modes": ["rgb_array"]}
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        return np.zeros(2, np.float32), 0.0, False, False, {"is_success": False}

    def render(self) -> None:
        return None


for name, env_class in (
    ("SequenceObservation-v0", SequenceObservation),
    ("RendersNothing-v0", RendersNothing),
):
    if name not in registry:
        register(name, entry_point=env_class, max_episode_steps=10)
