"""Tasks: the bundled envs by name, or any Gymnasium env by id; and what a policy reads of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from reward_learning.gym_tasks import TaskTraits, make_gym_task, probe

TASKS: tuple[str, ...] = tuple(envs.ENV_IDS)


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
        return gym.make(
            envs.ENV_IDS[task], obs_mode=obs_mode, image_size=image_size,
            render_mode=render_mode, render_size=render_size,
        )  # fmt: skip
    return make_gym_task(
        task, obs_mode, image_size, env_kwargs, render_size if render_mode else None
    )


def task_traits(task: str, env_kwargs: str = "") -> TaskTraits:
    """Whether the task reports success and can pose a success state (bundled tasks do both)."""
    if task in envs.ENV_IDS:
        return TaskTraits(has_success=True, can_pose_success=True)
    return probe(task, env_kwargs)


POLICY_INPUTS: tuple[str, ...] = ("state", "image")


def policy_view(env: gym.Env[Any, Any], policy_input: str) -> gym.Env[Any, Any]:
    """What the policy reads of a dict-observation env.

    ``"state"``: the state vector alone, a flat ``Box`` that every SB3 off-policy algorithm
    takes (images stay with the reward). ``"image"``: the whole dict, for image policies.
    """
    if policy_input == "image":
        return env
    return gym.wrappers.FlattenObservation(gym.wrappers.FilterObservation(env, ["state"]))


def make_policy_env(
    task: str,
    policy_input: str,
    image_size: int,
    obs_stats: tuple[np.ndarray, np.ndarray] | None = None,
    success_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    env_kwargs: str = "",
    **kwargs: Any,
) -> gym.Env[Any, Any]:
    """An env for running a trained policy (evaluation, video): same observations as training.

    A state policy's env renders no task images at all, unless ``success_fn`` (uint8 frames
    ``(N, H, W, 3)`` to 0/1 ``(N,)``) judges success in place of an env that reports none.
    ``obs_stats``: the ``(mean, var)`` of a policy trained on normalized observations (SB3's
    ``VecNormalize``), applied as it applies them.
    """
    reads_images = policy_input == "image" or success_fn is not None
    obs_mode = "dict" if reads_images else "state"
    env = make_env(task, obs_mode, image_size, env_kwargs, **kwargs)
    if success_fn is not None:
        env = policy_view(SuccessVerdict(env, success_fn), policy_input)
        obs_mode = "state" if policy_input == "state" else "dict"
    if obs_stats is None:
        return env
    mean, var = obs_stats
    state_space = gym.spaces.Box(-OBS_CLIP, OBS_CLIP, mean.shape, dtype=np.float32)

    def normalize(state: np.ndarray) -> np.ndarray:
        return np.clip((state - mean) / np.sqrt(var + 1e-8), -OBS_CLIP, OBS_CLIP).astype(np.float32)

    if obs_mode == "state":
        return gym.wrappers.TransformObservation(env, normalize, state_space)
    space = gym.spaces.Dict({**env.observation_space, "state": state_space})  # type: ignore[dict-item]
    return gym.wrappers.TransformObservation(
        env, lambda obs: {**obs, "state": normalize(obs["state"])}, space
    )


OBS_CLIP = 10.0  # VecNormalize's default clip_obs


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
