"""Gymnasium MuJoCo tasks of reward_learning, registered on import.

``gymnasium.make("reward_learning/Push-v0")`` (or ``Drape-v0``); MuJoCo is imported only when
an env is made.
"""

import os

# Headless by default (docs/ARCHITECTURE.md): MuJoCo picks GLFW when MUJOCO_GL is unset and dies without a
# display; EGL falls back to Mesa on the CPU and is as fast as OSMesa. This package's __init__
# runs before any of its modules imports mujoco.
os.environ.setdefault("MUJOCO_GL", "egl")

from gymnasium.envs.registration import register, registry  # noqa: E402

ENV_IDS = {"push": "reward_learning/Push-v0", "drape": "reward_learning/Drape-v0"}
MUJOCO_NEEDED = {"drape": (4, 0)}
"""The MuJoCo a task's scene needs where it is newer than the package's floor (3.3): Drape's cloth
uses MuJoCo 4's flex elasticity (``elastic2d``), which 3.3 refuses as a schema violation."""
_ENTRY_POINTS = {"push": "envs.push:PushEnv", "drape": "envs.drape:DrapeEnv"}

for _task, _env_id in ENV_IDS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_ENTRY_POINTS[_task], max_episode_steps=100)
