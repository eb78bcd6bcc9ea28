"""Any Gymnasium env as a task: its render is the frame, its observation the state.

A task env (the bundled ones, or any env through :class:`ImageTask`) emits ``{"state": float32
(S,), "image": uint8 (H, W, 3)}`` (or either alone), returns ground-truth success as its reward
and reports it as ``info["is_success"]`` (Gymnasium's convention) when it knows it.
"""

from __future__ import annotations

import functools
import importlib
import json
from typing import Any, NamedTuple

import cv2
import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from reward_learning.errors import UserInputError
from reward_learning.tasks import SUITE_EXTRAS, SUITES
from reward_learning.tasks.views import declared_proprio


class FastMujocoRender(gym.Wrapper[Any, Any, Any, Any]):
    """Render settings for small frames on a CPU, for any MuJoCo-based Gymnasium env.

    No multisampling, no shadows, and round shapes drawn with 16 slices and 4 stacks instead of
    28 and 16, as the bundled Push does (benchmarks/README.md: Pusher-v5's 64x64 frames over
    100x faster on Mesa, a mean pixel difference under 1 of 255). The offscreen buffer's size is
    the env's own ``width``/``height``, so make the env at the frame's size. Must wrap the env
    before its first ``render()``, which builds the GL context from these settings.
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        model = env.unwrapped.model  # type: ignore[attr-defined]
        model.vis.quality.offsamples = 0
        model.vis.quality.shadowsize = 0
        model.light_castshadow[:] = 0
        model.vis.quality.numslices = 16
        model.vis.quality.numstacks = 4


def is_mujoco_env(env: gym.Env[Any, Any]) -> bool:
    """Whether ``env`` simulates with MuJoCo (it has an ``MjModel`` named ``model``)."""
    return isinstance(getattr(env.unwrapped, "model", None), mujoco.MjModel)


class ImageTask(gym.Wrapper[Any, Any, Any, Any]):
    """A Gymnasium env seen as a task: state and frame observations, success as the reward.

    The state is the env's observation flattened (a dict observation without its ``"image"``);
    the frame is the observation's ``"image"`` if it has one, else ``render()``
    (``render_mode="rgb_array"``), resized to ``image_size``. The env's own reward moves to
    ``info["env_reward"]``; the reward is ``info["is_success"]`` (0 when the env has none).

    Args:
        env: the env, made with ``render_mode="rgb_array"`` unless it observes an image.
        obs_mode: ``"dict"``, ``"state"`` or ``"image"``, as the bundled tasks.
        image_size: side of the frames, in pixels.
    """

    def __init__(self, env: gym.Env[Any, Any], obs_mode: str = "dict", image_size: int = 64):
        super().__init__(env)
        space = env.observation_space
        self.image_key: str | None = None
        self._state_space: spaces.Space[Any] = space
        if isinstance(space, spaces.Dict) and "image" in space.spaces:
            self.image_key = "image"
            self._state_space = spaces.Dict({k: v for k, v in space.items() if k != "image"})
        try:
            flat = spaces.flatten_space(self._state_space)
        except NotImplementedError:
            flat = None
        if not isinstance(flat, spaces.Box):  # a Sequence or Graph flattens to itself
            raise UserInputError(
                f"{env.spec.id if env.spec else env}: its observation space {space} cannot be "
                "flattened into a state vector for the policy"
            )
        if self.image_key is None and env.render_mode != "rgb_array":
            raise UserInputError(
                f"{env.spec.id if env.spec else env} renders no rgb_array images (render_mode "
                f"{env.render_mode!r}, modes {env.metadata.get('render_modes')}): the reward "
                "needs a picture of each state"
            )
        self.obs_mode = obs_mode
        self.image_size = image_size
        state_space = spaces.Box(-np.inf, np.inf, flat.shape, dtype=np.float32)
        image_space = spaces.Box(0, 255, (image_size, image_size, 3), dtype=np.uint8)
        views: dict[str, spaces.Space[Any]] = {
            "state": state_space,
            "image": image_space,
            "dict": spaces.Dict({"state": state_space, "image": image_space}),
        }
        self.observation_space = views[obs_mode]

    def _frame(self, obs: Any) -> np.ndarray:
        raw: Any = obs[self.image_key] if self.image_key else self.env.render()
        image = np.asarray(raw)
        if raw is None or image.ndim != 3:
            name = self.env.spec.id if self.env.spec else self.env
            raise UserInputError(
                f"{name}: render() returned {None if raw is None else image.shape}, not an "
                "(H, W, 3) rgb_array frame: the reward needs a picture of each state"
            )
        if image.shape[:2] != (self.image_size, self.image_size):
            image = cv2.resize(
                image, (self.image_size, self.image_size), interpolation=cv2.INTER_AREA
            )
        return np.ascontiguousarray(image[..., :3], dtype=np.uint8)

    def _observation(self, obs: Any) -> Any:
        if self.obs_mode == "image":
            return self._frame(obs)
        raw = {k: v for k, v in obs.items() if k != "image"} if self.image_key else obs
        state = np.asarray(spaces.flatten(self._state_space, raw), dtype=np.float32)
        if self.obs_mode == "state":
            return state
        return {"state": state, "image": self._frame(obs)}

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env."""
        obs, info = self.env.reset(**kwargs)
        return self._observation(obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; the reward is ``info["is_success"]`` (the env's in ``env_reward``)."""
        if not np.all(np.isfinite(np.asarray(action, dtype=np.float64))):
            raise ValueError(f"action {np.asarray(action).tolist()} is not finite (NaN or inf)")
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["env_reward"] = float(reward)
        success = float(info.get("is_success", 0.0))
        return self._observation(obs), success, terminated, truncated, info

    def set_random_success_state(self, rng: np.random.Generator) -> Any:
        """The env's own ``set_random_success_state(rng)``, seen as this wrapper's observation."""
        if not self.env.has_wrapper_attr("set_random_success_state"):
            raise UserInputError(
                f"{self.env.spec.id if self.env.spec else self.env} cannot put itself in a "
                "success state: give goal images with --goal-dir"
            )
        return self._observation(self.env.get_wrapper_attr("set_random_success_state")(rng))


def parse_env_kwargs(text: str) -> dict[str, Any]:
    """``--env-kwargs`` JSON as a dict.

    Raises:
        UserInputError: not a JSON object.
    """
    try:
        kwargs = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise UserInputError(f"--env-kwargs {text!r} is not JSON ({error})") from error
    if not isinstance(kwargs, dict):
        raise UserInputError(f"--env-kwargs {text!r}: expected a JSON object, e.g. '{{\"a\": 1}}'")
    return kwargs


def make_gym_task(
    env_id: str,
    obs_mode: str = "dict",
    image_size: int = 64,
    env_kwargs: str = "",
    render_size: int | None = None,
) -> ImageTask:
    """A registered Gymnasium env (``Id-vN`` or ``module:Id-vN``) as an :class:`ImageTask`.

    A MuJoCo env renders at the frame's size under :class:`FastMujocoRender` (or at
    ``render_size``, for videos).

    Raises:
        UserInputError: the id is not registered (with Gymnasium's "did you mean"), its module
            does not import, or ``env_kwargs`` do not fit the env.
    """
    kwargs = parse_env_kwargs(env_kwargs)
    module, _, name = env_id.rpartition(":")
    suite = next((start for start in SUITES.names() if name.startswith(start)), None)
    side = render_size or image_size
    if suite is not None and not module:
        try:
            make = SUITES.get(suite)
        except ImportError as error:
            raise UserInputError(
                f"--env {env_id}: {error.name} is not installed: pip install "
                f"'reward-learning[{SUITE_EXTRAS[suite]}]' (a venv of its own: it pins its MuJoCo)"
            ) from error
        env = make(name, side, **kwargs)
    else:
        env = make_registered(env_id, module, name, side, kwargs, env_kwargs)
    if is_mujoco_env(env):
        env = FastMujocoRender(env)
    return ImageTask(env, obs_mode, image_size)


def make_registered(
    env_id: str, module: str, name: str, side: int, kwargs: dict[str, Any], env_kwargs: str
) -> gym.Env[Any, Any]:
    """``gym.make`` of a registered id, rendering ``rgb_array``; a ``MujocoEnv`` at ``side`` pixels.

    Raises:
        UserInputError: see :func:`make_gym_task`.
    """
    try:
        if module:  # as gymnasium.make does: the module registers its envs on import
            importlib.import_module(module)
        spec = gym.spec(name)
    except (gym.error.Error, ImportError) as error:
        raise UserInputError(f"--env {env_id}: {error}") from error
    entry = spec.entry_point
    creator = entry if callable(entry) else gym.envs.registration.load_env_creator(str(entry))
    if isinstance(creator, type) and issubclass(creator, MujocoEnv):  # a small GL buffer
        kwargs = {"width": side, "height": side, **kwargs}
    try:
        return gym.make(spec, render_mode="rgb_array", **kwargs)
    except TypeError as error:
        raise UserInputError(f"--env-kwargs {env_kwargs}: {error}") from error


class TaskTraits(NamedTuple):
    """What a run needs to know of a task before it starts."""

    has_success: bool
    """The env reports ``info["is_success"]``."""
    can_pose_success: bool
    """The env can put itself in a success state (goal images without a folder)."""
    proprio: tuple[int, ...] = ()
    """The entries of the state vector the env declares the robot's own (its ``proprio``)."""
    state_size: int = 0
    """Entries of the flattened state vector."""


@functools.cache
def probe(env_id: str, env_kwargs: str = "") -> TaskTraits:
    """Make the env once and step it once: its traits, or a one-line error.

    Raises:
        UserInputError: the env cannot be made or read as a task, or its actions are not a
            ``Box`` (the off-policy learners act continuously).
    """
    env = make_gym_task(env_id, "dict", 16, env_kwargs)
    try:
        if not isinstance(env.action_space, spaces.Box):
            raise UserInputError(
                f"--env {env_id}: its actions are {env.action_space}; SAC and TQC need a Box"
            )
        env.reset(seed=0)
        *_, info = env.step(env.action_space.sample())
        # the env ImageTask wraps, through its wrappers (a suite's adapter): ImageTask has its own
        pose = env.env.has_wrapper_attr("set_random_success_state")
        return TaskTraits(
            has_success="is_success" in info, can_pose_success=pose, proprio=declared_proprio(env),
            state_size=int(env.observation_space["state"].shape[0]),  # type: ignore[index]
        )  # fmt: skip
    finally:
        env.close()
