"""Task names on the command line, mapped to the registered Gymnasium envs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

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
