"""Gymnasium-Robotics' Fetch envs as tasks (the ``robotics`` extra).

They report ``info["is_success"]`` already; the adapter names the gripper's position as
proprioception and poses FetchReach's success states from its goal, so that goal images need no
photos: ``reward-learning train --env FetchReach-v4``. Gymnasium-Robotics 1.4.2 needs MuJoCo
before 4.0 (pyproject.toml's extras).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import gymnasium_robotics
import mujoco
import numpy as np

gym.register_envs(gymnasium_robotics)

GRIPPER = (6, 7, 8)
"""The gripper's x, y, z in the flattened observation: ``achieved_goal`` (3) and
``desired_goal`` (3) come first (a Dict flattens by key), then ``observation``, which opens with
the gripper's position."""
CAMERA = {"distance": 0.7, "azimuth": 160.0, "elevation": -60.0, "lookat": [1.34, 0.75, 0.55]}
"""The default view: from above and 0.7 m from the reach's workspace, so the gripper and the goal
fill the frame (Gymnasium-Robotics' own default, 2.5 m away, draws the gripper a few pixels wide at
48 px); the success check told goal images from policy frames best in this view of those measured
(benchmarks/README.md, Success check). ``default_camera_config`` in ``--env-kwargs`` replaces it."""
REACH_GAIN = 10.0
"""Action per metre of distance to the goal when posing FetchReach (actions clip at 1)."""


def make_fetch(env_id: str, side: int, **kwargs: Any) -> gym.Env[Any, Any]:
    """A Fetch env rendering ``side``-pixel frames; FetchReach can pose its success states."""
    kwargs = {"default_camera_config": CAMERA, **kwargs}
    env = gym.make(env_id, render_mode="rgb_array", width=side, height=side, **kwargs)
    return FetchReachTask(env) if env_id.startswith("FetchReach") else FetchTask(env)


class FetchTask(gym.Wrapper[Any, Any, Any, Any]):
    """A Fetch env read as a task: the gripper's position is the robot's own state.

    The goal's marker is drawn as large as the zone that counts as success.

    The marker (site ``target0``) is a 2 cm ball, a pixel or two at 48 px, while success is
    being within ``distance_threshold`` (5 cm) of the goal: drawn at 5 cm, "inside the red
    ball" is success (benchmarks/README.md, Success check). Drawing only; the physics is the
    suite's.
    """

    proprio = GRIPPER

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        task: Any = env.unwrapped
        marker = mujoco.mj_name2id(task.model, mujoco.mjtObj.mjOBJ_SITE, "target0")
        task.model.site_size[marker] = task.distance_threshold


class FetchReachTask(FetchTask):
    """FetchReach, which can also put itself in a success state."""

    def set_random_success_state(self, rng: np.random.Generator) -> Any:
        """Reset to a random goal and move the gripper onto it.

        Raises:
            RuntimeError: the gripper did not reach the goal within an episode.
        """
        obs, _ = self.env.reset(seed=int(rng.integers(2**31)))
        done = False
        while not done:
            move = np.clip(REACH_GAIN * (obs["desired_goal"] - obs["achieved_goal"]), -1, 1)
            obs, _, terminated, truncated, info = self.env.step(np.append(move, 0.0))
            if info["is_success"]:
                return obs
            done = terminated or truncated
        raise RuntimeError("FetchReach's gripper did not reach its goal in an episode")
