"""What a policy sees of a task: the state vector, or stacked camera frames and proprioception.

``tasks.POLICY_INPUTS`` names each input by what a robot has; :class:`PixelStack` shows the policy
the last ``stack`` frames, channel-first, and for ``pixels+proprio`` the robot's own effector
state, nothing of the objects' state. It names the frames of each transition's two stacks in
``info["stack_keys"]``, by the keys the frame recorder gave them (reset frames included), which
is how :class:`~reward_learning.learner.pixels.PixelReplayBuffer` stores them without images.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from reward_learning.errors import UserInputError
from reward_learning.frames import FRAME_KEY
from reward_learning.tasks import POLICY_INPUTS

PIXELS, PROPRIO = "pixels", "proprio"  # the policy's observation entries
STACK_KEYS = "stack_keys"  # info entry: frame keys of (obs stack, next-obs stack), int64 (2, k)
STACK = 3  # frames a policy sees at once: motion, as DrQ's frame stack of 3


class PixelStack(gym.Wrapper[Any, Any, Any, Any]):
    """The last ``stack`` frames of a dict-observation task env, and its proprioception.

    Observations: ``{"pixels": uint8 (3 * stack, H, W)}``, oldest frame first, plus
    ``"proprio": float32 (P,)`` (the ``proprio`` entries of the state vector) when ``proprio``
    is given. An episode starts with its first frame repeated.

    Args:
        env: emits ``{"state": float32 (S,), "image": uint8 (H, W, 3)}``; in training it is
            wrapped in :class:`~reward_learning.frames.FrameRecorder` (filing resets too), whose
            ``info["frame_key"]`` names each frame (``-1`` elsewhere: evaluation keeps none).
        proprio: indices of the robot's own state in the state vector, or ``None`` (frames only).
        stack: frames per observation.
    """

    def __init__(
        self, env: gym.Env[Any, Any], proprio: tuple[int, ...] | None, stack: int = STACK
    ) -> None:
        super().__init__(env)
        image = env.observation_space["image"]  # type: ignore[index]
        height, width, channels = image.shape
        entries: dict[str, spaces.Space[Any]] = {
            PIXELS: spaces.Box(0, 255, (channels * stack, height, width), dtype=np.uint8)
        }
        if proprio is not None:
            state = env.observation_space["state"]  # type: ignore[index]
            low, high = state.low[list(proprio)], state.high[list(proprio)]
            entries[PROPRIO] = spaces.Box(low, high, (len(proprio),), dtype=np.float32)
        self.observation_space = spaces.Dict(entries)
        self.proprio = proprio
        self.frames: deque[np.ndarray] = deque(maxlen=stack)
        self.keys: deque[int] = deque(maxlen=stack)

    def _observation(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        pixels = np.concatenate([f.transpose(2, 0, 1) for f in self.frames], axis=0)
        if self.proprio is None:
            return {PIXELS: pixels}
        return {PIXELS: pixels, PROPRIO: obs["state"][list(self.proprio)].astype(np.float32)}

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset; the first frame fills the stack."""
        obs, info = self.env.reset(**kwargs)
        key = int(info.get(FRAME_KEY, -1))
        for _ in range(self.frames.maxlen or 1):
            self.frames.append(obs["image"])
            self.keys.append(key)
        return self._observation(obs), info

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Step; ``info["stack_keys"]`` names the frames of the stacks before and after."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        before = list(self.keys)
        self.frames.append(obs["image"])
        self.keys.append(int(info.get(FRAME_KEY, -1)))
        info[STACK_KEYS] = np.array([before, list(self.keys)], dtype=np.int64)
        return self._observation(obs), float(reward), terminated, truncated, info


@dataclass(frozen=True)
class PolicyInput:
    """What the policy reads of a task env: the state vector, or frames and maybe proprioception."""

    pixels: bool
    """Stacked camera frames (:class:`~reward_learning.learner.pixels.PixelStack`)."""
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
            declared = (
                tuple(env.get_wrapper_attr("proprio")) if env.has_wrapper_attr("proprio") else ()
            )
            size = env.observation_space["state"].shape[0]  # type: ignore[index]
            indices = proprio_indices(name, proprio, declared, size)
        return PixelStack(env, indices)


def declared_proprio(env: gym.Env[Any, Any]) -> tuple[int, ...]:
    """The state entries an env (or a suite's adapter around it) declares the robot's own."""
    return tuple(env.get_wrapper_attr("proprio")) if env.has_wrapper_attr("proprio") else ()


def state() -> PolicyInput:
    """The simulator's state vector, objects included: privileged."""
    return PolicyInput(pixels=False)


def pixels() -> PolicyInput:
    """Camera frames only."""
    return PolicyInput(pixels=True)


def pixels_and_proprio() -> PolicyInput:
    """Camera frames and the robot's own effector state."""
    return PolicyInput(pixels=True, proprio=True)


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
