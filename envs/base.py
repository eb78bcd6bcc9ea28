"""A MuJoCo Gymnasium env base: MJCF scene, offscreen camera images, success in ``info``.

Subclasses define the task (action effect, state vector, success, random starts and random
success states); this base owns the model, the renderers and the observation modes. Envs
know nothing of learning: the reward they return is ground-truth success (0/1), and the
terms behind it are in ``info``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

_SOURCE_ASSETS = Path(__file__).resolve().parent.parent / "assets"  # a checkout (editable install)
# An installed wheel carries the scenes as envs/assets/.
ASSETS = _SOURCE_ASSETS if _SOURCE_ASSETS.is_dir() else Path(__file__).resolve().parent / "assets"
ObsMode = Literal["state", "image", "dict"]
OBS_MODES: tuple[str, ...] = ("state", "image", "dict")
# What drawing a scene again needs: joint positions and mocap bodies (not velocities).
SCENE_STATE = (
    mujoco.mjtState.mjSTATE_QPOS | mujoco.mjtState.mjSTATE_MOCAP_POS
    | mujoco.mjtState.mjSTATE_MOCAP_QUAT
)  # fmt: skip


def get_scene(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """The :data:`SCENE_STATE` of a MuJoCo simulation, float64 ``(S,)``."""
    state = np.empty(mujoco.mj_stateSize(model, SCENE_STATE))
    mujoco.mj_getState(model, data, state, SCENE_STATE)
    return state


def set_scene(model: mujoco.MjModel, data: mujoco.MjData, state: np.ndarray) -> None:
    """Put a :func:`get_scene` state back (and compute positions, for rendering)."""
    mujoco.mj_setState(model, data, np.asarray(state, dtype=np.float64), SCENE_STATE)
    mujoco.mj_forward(model, data)


class MujocoTaskEnv(gym.Env[Any, np.ndarray]):
    """Base of the reward_learning tasks.

    Args:
        obs_mode: ``"dict"`` (``{"state": float32 (S,), "image": uint8 (H, W, 3)}``),
            ``"state"`` or ``"image"``.
        image_size: side of the square task-camera image, in pixels (48, 64, 84 ...).
        render_mode: ``"rgb_array"`` returns a larger view for videos from :meth:`render`.
        render_size: side of the ``render()`` image, in pixels.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    scene: str = ""  # MJCF file name under assets/
    task_camera: str = "task"
    view_camera: str = "view"
    state_size: int = 0
    proprio: tuple[int, ...] = ()  # entries of the state vector that are the robot's own
    state_bound: float = np.inf  # every state entry lies in [-state_bound, state_bound]
    action_size: int = 0

    def __init__(
        self,
        obs_mode: ObsMode = "dict",
        image_size: int = 64,
        render_mode: str | None = None,
        render_size: int = 256,
    ) -> None:
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode={obs_mode!r}: expected one of {', '.join(OBS_MODES)}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r}: expected None or 'rgb_array'")
        if not 16 <= image_size <= 512:
            raise ValueError(f"image_size={image_size}: expected 16 to 512 pixels")
        path = ASSETS / self.scene
        if not path.exists():
            raise FileNotFoundError(f"MJCF scene {path} not found: the installation is incomplete")
        self.model = mujoco.MjModel.from_xml_path(str(path))
        self.data = mujoco.MjData(self.model)
        self.obs_mode = obs_mode
        self.image_size = image_size
        self.render_mode = render_mode
        self.render_size = render_size
        self._renderer: mujoco.Renderer | None = None
        self._view_renderer: mujoco.Renderer | None = None
        self._image = np.zeros((image_size, image_size, 3), dtype=np.uint8)

        self.action_space = spaces.Box(-1.0, 1.0, (self.action_size,), dtype=np.float32)
        state_space = spaces.Box(
            -self.state_bound, self.state_bound, (self.state_size,), dtype=np.float32
        )
        image_space = spaces.Box(0, 255, (image_size, image_size, 3), dtype=np.uint8)
        self.observation_space: spaces.Space[Any] = {
            "state": state_space,
            "image": image_space,
            "dict": spaces.Dict({"state": state_space, "image": image_space}),
        }[obs_mode]

    # -- task interface ---------------------------------------------------------------

    def _reset_task(self) -> None:
        """Put the model into a random initial state, using ``self.np_random``."""
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        """Advance the simulation one env step under ``action`` (already finite and clipped)."""
        raise NotImplementedError

    def _state(self) -> np.ndarray:
        """The state vector, float32 of shape ``(state_size,)``."""
        raise NotImplementedError

    def _task_info(self) -> dict[str, Any]:
        """Ground truth: ``is_success`` and the quantities it is computed from."""
        raise NotImplementedError

    def set_random_success_state(self, rng: np.random.Generator) -> Any:
        """Move the scene into a random configuration that counts as success.

        Returns:
            The observation of that state.
        """
        raise NotImplementedError

    def scene_state(self) -> np.ndarray:
        """What :meth:`set_scene_state` needs to draw this moment again, float64 ``(S,)``."""
        return get_scene(self.model, self.data)

    def set_scene_state(self, state: np.ndarray) -> None:
        """Pose the scene as :meth:`scene_state` saw it (for rendering; velocities are not kept)."""
        set_scene(self.model, self.data, state)

    # -- gymnasium API ------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Random initial state (seeded by ``seed`` on first use)."""
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self._reset_task()
        mujoco.mj_forward(self.model, self.data)
        return self._observation(), self._task_info()

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (clipped to [-1, 1]); reward is ground-truth success, 0 or 1."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.action_size,):
            raise ValueError(f"action of shape {action.shape}: expected ({self.action_size},)")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action {action.tolist()} is not finite (NaN or inf)")
        self._apply_action(np.clip(action, -1.0, 1.0))
        info = self._task_info()
        return self._observation(), float(info["is_success"]), False, False, info

    def render(self) -> np.ndarray | None:  # type: ignore[override]
        """The ``view`` camera, uint8 ``(render_size, render_size, 3)``, for videos."""
        if self.render_mode != "rgb_array":
            return None
        if self._view_renderer is None:
            self._view_renderer = mujoco.Renderer(self.model, self.render_size, self.render_size)
        self._view_renderer.update_scene(self.data, self.view_camera)
        return self._view_renderer.render()

    def close(self) -> None:
        """Free the GL contexts."""
        for renderer in (self._renderer, self._view_renderer):
            if renderer is not None:
                renderer.close()
        self._renderer = self._view_renderer = None

    # -- observations -----------------------------------------------------------------

    def render_image(self) -> np.ndarray:
        """The task camera, uint8 ``(image_size, image_size, 3)`` (a fresh array)."""
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.image_size, self.image_size)
        self._renderer.update_scene(self.data, self.task_camera)
        return self._renderer.render(out=self._image).copy()

    def _observation(self) -> Any:
        if self.obs_mode == "state":
            return self._state()
        if self.obs_mode == "image":
            return self.render_image()
        return {"state": self._state(), "image": self.render_image()}
