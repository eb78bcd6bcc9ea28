"""Meta-World's envs as tasks (the ``metaworld`` extra).

Its success as ``info["is_success"]``, a camera that shows the gripper and the object, and
success states posed by its own scripted policies:
``reward-learning train --env Meta-World/MT1 --env-kwargs '{"env_name": "drawer-close-v3"}'``.
Meta-World 3.1.1 pins MuJoCo 3.3.0 (pyproject.toml's extras).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import metaworld  # noqa: F401 - registers the Meta-World/ ids
import numpy as np
from metaworld.policies import ENV_POLICY_MAP

from reward_learning.errors import UserInputError

CAMERA = "corner"
"""The default camera: the gripper and the object fill the frame (Meta-World's own default
looks at the whole table from afar, the object a few pixels at 48 px)."""
UPSIDE_DOWN = frozenset({"corner", "corner2", "corner3"})
"""Cameras whose frames metaworld 3.1.1 renders upside down (seen in its renders): flipped back."""
POSE_TRIES = 5
"""Scripted episodes tried for one success state before giving up."""


def make_metaworld(env_id: str, side: int, **kwargs: Any) -> gym.Env[Any, Any]:
    """A Meta-World env as a :class:`MetaWorldTask`, rendering ``side``-pixel frames.

    From :data:`CAMERA` unless ``kwargs`` name a camera (``camera_name`` or ``camera_id``).

    Raises:
        UserInputError: no ``env_name`` among ``kwargs``, or one Meta-World does not have.
    """
    name = str(kwargs.get("env_name"))
    if name not in ENV_POLICY_MAP:
        raise UserInputError(
            f'--env {env_id}: name the task in --env-kwargs, e.g. \'{{"env_name": '
            f'"drawer-close-v3"}}\' (got {kwargs.get("env_name")!r}; Meta-World has {", ".join(sorted(ENV_POLICY_MAP)[:4])} ...)'
        )
    if "camera_id" not in kwargs:
        kwargs = {"camera_name": CAMERA, **kwargs}
    env = gym.make(env_id, render_mode="rgb_array", width=side, height=side, **kwargs)
    return MetaWorldTask(env, name, kwargs.get("camera_name"))


class MetaWorldTask(gym.Wrapper[Any, Any, Any, Any]):
    """A Meta-World env read as a task.

    - ``info["is_success"]`` from Meta-World's ``info["success"]``.
    - ``render()`` upright (see :data:`UPSIDE_DOWN`).
    - ``set_random_success_state(rng)``: a new random task variation, driven by Meta-World's
      scripted policy for the task until it reports success; returns that observation.
    - ``proprio``: the hand's x, y, z and the gripper's opening (observation entries 0-3).

    Args:
        env: ``gym.make("Meta-World/MT1", env_name=..., render_mode="rgb_array", ...)``.
        name: the Meta-World task (``drawer-close-v3``).
        camera: the camera it renders from, if named.
    """

    proprio = (0, 1, 2, 3)

    def __init__(self, env: gym.Env[Any, Any], name: str, camera: str | None) -> None:
        super().__init__(env)
        self.name = name
        self.flip = camera in UPSIDE_DOWN
        self.policy = ENV_POLICY_MAP[name]()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; ``info["is_success"]`` is Meta-World's ``info["success"]``."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["is_success"] = bool(info["success"])
        return obs, float(reward), terminated, truncated, info

    def render(self) -> Any:
        """The camera's frame, upright."""
        frame = self.env.render()
        return np.ascontiguousarray(frame[::-1]) if self.flip and frame is not None else frame

    def set_random_success_state(self, rng: np.random.Generator) -> Any:
        """Reset to a random variation and act with the scripted policy until success.

        Raises:
            RuntimeError: the scripted policy did not succeed in :data:`POSE_TRIES` episodes.
        """
        for _ in range(POSE_TRIES):
            obs, _ = self.env.reset(seed=int(rng.integers(2**31)))
            done = False
            while not done:
                obs, _, terminated, truncated, info = self.env.step(self.policy.get_action(obs))
                if info["success"]:
                    return obs
                done = terminated or truncated
        raise RuntimeError(f"Meta-World's scripted {self.name} policy did not succeed")
