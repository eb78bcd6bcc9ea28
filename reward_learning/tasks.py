"""Tasks: the bundled envs by name, or any Gymnasium env by id; and what a policy reads of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from reward_learning.errors import UserInputError
from reward_learning.gym_tasks import TaskTraits, make_gym_task, probe
from reward_learning.pixels import PROPRIO, PixelStack
from reward_learning.registry import Registry

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


@dataclass(frozen=True)
class PolicyInput:
    """What the policy reads of a task env: the state vector, or frames and maybe proprioception."""

    pixels: bool
    """Stacked camera frames (:class:`~reward_learning.pixels.PixelStack`)."""
    proprio: bool = False
    """The robot's own state beside the frames (the task's ``proprio`` entries)."""

    @property
    def normalized_key(self) -> str | None:
        """The observation entry VecNormalize normalizes: ``""`` the whole flat vector, or none."""
        if not self.pixels:
            return ""
        return PROPRIO if self.proprio else None

    def view(self, env: gym.Env[Any, Any], proprio: str = "") -> gym.Env[Any, Any]:
        """The policy's observation of a dict-observation task env.

        Args:
            env: emits ``{"state": float32 (S,), "image": uint8 (H, W, 3)}``.
            proprio: an ``--env``'s proprioception entries (``"0-3,8"``); a bundled task
                declares its own.
        """
        if not self.pixels:
            return gym.wrappers.FlattenObservation(gym.wrappers.FilterObservation(env, ["state"]))
        indices = None
        if self.proprio:
            name = env.spec.id if env.spec else str(env)
            declared = tuple(getattr(env.unwrapped, "proprio", ()))
            size = env.observation_space["state"].shape[0]  # type: ignore[index]
            indices = proprio_indices(name, proprio, declared, size)
        return PixelStack(env, indices)


POLICY_INPUTS: Registry[PolicyInput] = Registry("policy input", "--policy-input")
"""What a policy may read, named by what a robot has."""
POLICY_INPUTS.register(
    "state",
    lambda: PolicyInput(pixels=False),
    "the simulator's state, objects included: privileged",
)
POLICY_INPUTS.register("pixels", lambda: PolicyInput(pixels=True), "camera frames only")
POLICY_INPUTS.register(
    "pixels+proprio",
    lambda: PolicyInput(pixels=True, proprio=True),
    "camera frames and the robot's own effector state",
)


def parse_indices(text: str) -> tuple[int, ...]:
    """``"0-3,8"`` as ``(0, 1, 2, 3, 8)``.

    Raises:
        UserInputError: not a list of indices and ranges.
    """
    indices: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            indices += range(int(low), int(high or low) + 1)
    except ValueError:
        indices = []
    if not indices or min(indices) < 0:
        raise UserInputError(f"--proprio {text!r}: expected indices and ranges, e.g. 0-3,8")
    return tuple(indices)


def proprio_indices(
    name: str, text: str, declared: tuple[int, ...], state_size: int
) -> tuple[int, ...]:
    """The entries of a task's state vector that are the robot's own state.

    Args:
        name: the task, for messages.
        text: ``--proprio`` (``"0-3,8"``), or ``""`` for what the env declares.
        declared: the env's own ``proprio`` (a bundled task's; ``()`` for most envs).
        state_size: entries of the flattened state vector.

    Raises:
        UserInputError: none named nor declared, or one out of range.
    """
    indices = parse_indices(text) if text else declared
    if not indices:
        raise UserInputError(
            f"--env {name} declares no proprioception: name the robot's own entries of its "
            "flattened observation with --proprio (e.g. 0-3)"
        )
    if max(indices) >= state_size:
        raise UserInputError(f"--proprio {text}: {name}'s state vector has {state_size} entries")
    return indices


def policy_view(env: gym.Env[Any, Any], policy_input: str, proprio: str = "") -> gym.Env[Any, Any]:
    """What the policy reads of a dict-observation env (:data:`POLICY_INPUTS`)."""
    return POLICY_INPUTS.build(policy_input).view(env, proprio)


def make_policy_env(
    task: str,
    policy_input: str,
    image_size: int,
    obs_stats: tuple[np.ndarray, np.ndarray] | None = None,
    success_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    env_kwargs: str = "",
    proprio: str = "",
    **kwargs: Any,
) -> gym.Env[Any, Any]:
    """An env for running a trained policy (evaluation, video): same observations as training.

    A state policy's env renders no task images at all, unless ``success_fn`` (uint8 frames
    ``(N, H, W, 3)`` to 0/1 ``(N,)``) judges success in place of an env that reports none.
    ``obs_stats``: the ``(mean, var)`` of a policy trained on normalized observations (SB3's
    ``VecNormalize``), applied as it applies them.
    """
    view = POLICY_INPUTS.build(policy_input)
    reads_images = view.pixels or success_fn is not None
    env = make_env(task, "dict" if reads_images else "state", image_size, env_kwargs, **kwargs)
    if success_fn is not None:
        env = SuccessVerdict(env, success_fn)
    if reads_images:
        env = view.view(env, proprio)
    if obs_stats is None or view.normalized_key is None:
        return env
    mean, var = obs_stats
    space = gym.spaces.Box(-OBS_CLIP, OBS_CLIP, mean.shape, dtype=np.float32)

    def normalize(vector: np.ndarray) -> np.ndarray:
        return np.clip((vector - mean) / np.sqrt(var + 1e-8), -OBS_CLIP, OBS_CLIP).astype(
            np.float32
        )

    key = view.normalized_key
    if not key:
        return gym.wrappers.TransformObservation(env, normalize, space)
    spaces = gym.spaces.Dict({**env.observation_space, key: space})  # type: ignore[dict-item]
    return gym.wrappers.TransformObservation(
        env, lambda obs: {**obs, key: normalize(obs[key])}, spaces
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
