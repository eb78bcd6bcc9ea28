"""Task names on the command line, mapped to the registered Gymnasium envs, and what a policy reads of them."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import envs
from reward_learning.errors import UserInputError

TASKS: tuple[str, ...] = tuple(envs.ENV_IDS)


def make_env(task: str, **kwargs: Any) -> gym.Env[Any, Any]:
    """``gymnasium.make`` for a task name (``push``) or a full env id.

    Raises:
        UserInputError: the name is neither a task nor a registered env id.
    """
    env_id = envs.ENV_IDS.get(task, task)
    if env_id not in gym.registry:
        raise UserInputError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    return gym.make(env_id, **kwargs)


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
    **kwargs: Any,
) -> gym.Env[Any, Any]:
    """An env for running a trained policy (evaluation, video): same observations as training.

    A state policy's env renders no task images at all. ``obs_stats``: the ``(mean, var)`` of a
    policy trained on normalized observations (SB3's ``VecNormalize``), applied as it applies
    them.
    """
    obs_mode = "state" if policy_input == "state" else "dict"
    env = make_env(task, obs_mode=obs_mode, image_size=image_size, **kwargs)
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
