"""Tasks: the bundled envs by name, or any Gymnasium env by id, and the env a trained policy runs in."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from reward_learning.errors import UserInputError
from reward_learning.tasks import POLICY_INPUTS
from reward_learning.tasks.gym_envs import TaskTraits, make_gym_task, probe


def make_env(
    task: str,
    obs_mode: str = "dict",
    image_size: int = 64,
    env_kwargs: str = "",
    render_mode: str | None = None,
    render_size: int = 256,
) -> gym.Env[Any, Any]:
    """A task's env: a bundled task by name (``push``), else any Gymnasium id as an ``ImageTask``.

    ``render_mode="rgb_array"`` asks for the larger ``render()`` view of videos (``render_size``
    pixels; Gymnasium's envs render their own view at that size).

    Raises:
        UserInputError: the id is not registered or its env cannot be read as a task.
    """
    if task in envs.ENV_IDS:
        check_mujoco(task)
        return gym.make(
            envs.ENV_IDS[task], obs_mode=obs_mode, image_size=image_size,
            render_mode=render_mode, render_size=render_size,
        )  # fmt: skip
    return make_gym_task(
        task, obs_mode, image_size, env_kwargs, render_size if render_mode else None
    )


def check_mujoco(task: str) -> None:
    """Refuse a bundled task whose scene this MuJoCo cannot load, in one line.

    Raises:
        UserInputError: names the MuJoCo needed and the one installed.
    """
    needed = envs.MUJOCO_NEEDED.get(task)
    installed = version("mujoco")
    if needed and tuple(int(part) for part in installed.split(".")[:2]) < needed:
        raise UserInputError(
            f"{task} needs MuJoCo >= {'.'.join(map(str, needed))} and this environment has "
            f"{installed} (an extra such as metaworld pins it): train {task} in a venv with "
            "the default install (pip install reward-learning)"
        )


def task_traits(task: str, env_kwargs: str = "") -> TaskTraits:
    """Whether the task reports success and can pose a success state (bundled tasks do both)."""
    if task in envs.ENV_IDS:
        return TaskTraits(has_success=True, can_pose_success=True)
    return probe(task, env_kwargs)


def make_policy_env(
    task: str,
    policy_input: str,
    image_size: int,
    success_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    env_kwargs: str = "",
    proprio: str = "",
    **kwargs: Any,
) -> gym.Env[Any, Any]:
    """An env for running a trained policy (evaluation, video): same observations as training.

    Before normalization, which ``learner.algorithms.normalized_like_training`` adds.
    A state policy's env renders no task images at all, unless ``success_fn`` (uint8 frames
    ``(N, H, W, 3)`` to 0/1 ``(N,)``) judges success in place of an env that reports none.
    """
    view = POLICY_INPUTS.build(policy_input)
    reads_images = view.pixels or success_fn is not None
    env = make_env(task, "dict" if reads_images else "state", image_size, env_kwargs, **kwargs)
    if success_fn is not None:
        env = SuccessVerdict(env, success_fn)
    if reads_images:
        env = view.view(env, proprio)
    return env


class SuccessVerdict(gym.Wrapper[Any, Any, Any, Any]):
    """``info["is_success"]`` from a judge of the frame, for an env that reports no success.

    ``info["success_source"]`` says ``"classifier"`` so that the number is labelled as such.
    """

    def __init__(self, env: gym.Env[Any, Any], success_fn: Callable[[np.ndarray], np.ndarray]):
        super().__init__(env)
        self.success_fn = success_fn

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env and judge the frame reached."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["is_success"] = bool(self.success_fn(obs["image"][None])[0])
        info["success_source"] = "classifier"
        return obs, float(reward), terminated, truncated, info
