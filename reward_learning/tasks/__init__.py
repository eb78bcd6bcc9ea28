"""The world: bundled tasks and any Gymnasium env, and what a policy sees of them.

This module is the tasks' menu, what a run may choose by name; it imports neither torch nor
MuJoCo, so the command line reads it for its choices and ``--help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import envs
from reward_learning.registry import Registry

if TYPE_CHECKING:
    import gymnasium as gym

    from reward_learning.tasks.views import PolicyInput

TASKS: tuple[str, ...] = tuple(envs.ENV_IDS)
"""The bundled tasks by name (``envs/``); any other name is a Gymnasium env id (``--env``)."""

POLICY_INPUTS: Registry[PolicyInput] = Registry("policy input", "--policy-input")
"""What a policy may read, named by what a robot has (``tasks.views``)."""
POLICY_INPUTS.register(
    "state",
    "reward_learning.tasks.views:state",
    "the simulator's state, objects included: privileged",
)
POLICY_INPUTS.register("pixels", "reward_learning.tasks.views:pixels", "camera frames only")
POLICY_INPUTS.register(
    "pixels+proprio",
    "reward_learning.tasks.views:pixels_and_proprio",
    "camera frames and the robot's own effector state",
)

SUITES: Registry[gym.Env[Any, Any]] = Registry("benchmark suite", "--env")
"""How to make a benchmark suite's envs as tasks, by the start of their ids (``Meta-World/`` in
``Meta-World/MT1``): a builder ``(env_id, side, **env_kwargs) -> env`` that adds the success,
camera, proprioception and goal states the suite's envs lack; other ids are made as they are."""
SUITES.register(
    "Meta-World/",
    "reward_learning.tasks.metaworld:make_metaworld",
    "Meta-World's success, a close camera, scripted success states; the metaworld extra",
)
SUITES.register(
    "Fetch",
    "reward_learning.tasks.robotics:make_fetch",
    "Gymnasium-Robotics' Fetch, FetchReach's success states from its goal; the robotics extra",
)
SUITE_EXTRAS = {"Meta-World/": "metaworld", "Fetch": "robotics"}
"""The pip extra that installs each suite."""
