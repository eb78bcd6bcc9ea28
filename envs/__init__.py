"""Gymnasium MuJoCo tasks of reward_learning, registered on import.

``gymnasium.make("reward_learning/Push-v0")``; MuJoCo is imported only when an env is made.
"""

import os

# Headless by default (DESIGN.md): MuJoCo picks GLFW when MUJOCO_GL is unset and dies without a
# display; EGL falls back to Mesa on the CPU and is as fast as OSMesa. This package's __init__
# runs before any of its modules imports mujoco.
os.environ.setdefault("MUJOCO_GL", "egl")

from gymnasium.envs.registration import register, registry  # noqa: E402

ENV_IDS = {"push": "reward_learning/Push-v0"}

if ENV_IDS["push"] not in registry:
    register(id=ENV_IDS["push"], entry_point="envs.push:PushEnv", max_episode_steps=100)
