"""The simulator state behind a frame, kept so that a person sees the moment asked about large.

The classifier judges a 48x48 frame; a person deciding whether the puck is within 5 cm wants the
task's larger view. :func:`scene_state` reads what drawing a moment again needs (joint positions,
mocap bodies, and what a bundled task moves in its model, like Drape's box); :class:`SceneView`
draws it again at 384 pixels from the camera the frame was taken with (a Gymnasium env's own
``render()`` camera). The positions drawn are those
the stored joint positions give; the frame itself was drawn before MuJoCo's last integration
substep, so a fast-moving cloth may sit a millimetre or two apart between the two pictures.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.base import get_scene, set_scene
from reward_learning.tasks.gym_envs import is_mujoco_env
from reward_learning.tasks.make import make_env

VIEW_PIXELS = 384


def scene_state(env: gym.Env[Any, Any]) -> np.ndarray | None:
    """float32 ``(S,)`` to draw the env's current moment again; ``None`` for a non-MuJoCo env."""
    unwrapped: Any = env.unwrapped
    if hasattr(unwrapped, "scene_state"):
        return np.asarray(unwrapped.scene_state(), dtype=np.float32)
    if is_mujoco_env(env):
        return get_scene(unwrapped.model, unwrapped.data).astype(np.float32)
    return None


class SceneView:
    """Draws stored scene states from the frames' camera, ``size`` pixels square.

    The env is made on the first call (a GL context), so a run that never shows a person a frame
    pays nothing.

    Args:
        task: a bundled task or a Gymnasium id, as in ``--env``.
        env_kwargs: the run's ``--env-kwargs``.
        size: side of the view, in pixels.
    """

    def __init__(self, task: str, env_kwargs: str = "", size: int = VIEW_PIXELS) -> None:
        self.task = task
        self.env_kwargs = env_kwargs
        self.size = size
        self._env: gym.Env[Any, Any] | None = None

    def __call__(self, state: np.ndarray) -> np.ndarray:
        """uint8 ``(size, size, 3)``: the view of ``state`` (a :func:`scene_state`)."""
        if self._env is None:
            self._env = make_env(
                self.task, "state", self.size, self.env_kwargs, "rgb_array", self.size
            )
            self._env.reset(seed=0)
        unwrapped: Any = self._env.unwrapped
        if hasattr(unwrapped, "set_scene_state"):
            unwrapped.set_scene_state(state)
        else:
            set_scene(unwrapped.model, unwrapped.data, state)
        # A bundled task's frames come from its task camera; a Gymnasium env's from render().
        image = np.asarray(
            unwrapped.render_image() if hasattr(unwrapped, "render_image") else self._env.render()
        )
        return np.ascontiguousarray(image[..., :3])

    def close(self) -> None:
        """Free the env's GL context."""
        if self._env is not None:
            self._env.close()
            self._env = None
