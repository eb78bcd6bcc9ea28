"""The images behind the policy's transitions, kept out of the policy learner's way.

One owner for the rule "a frame's key is the order in which the training env produced it":

* :class:`FrameStore` holds every next-state image the training env produced, by key.
* :class:`FrameRecorder` (a Gymnasium wrapper) files each step's image in the store and puts
  its key in ``info["frame_key"]``; the policy reads only what
  :func:`reward_learning.tasks.policy_view` passes on.
* :class:`FrameReplayBuffer` / :class:`FrameDictReplayBuffer` (SB3's ``replay_buffer_class``)
  remember the frame key of every slot, so :func:`relabel` can recompute the rewards of the
  stored transitions from their images whatever the buffer's size, wrap-around or algorithm.

The ground-truth tap and the query callback name frames by the same keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.buffers import DictReplayBuffer, NStepReplayBuffer, ReplayBuffer

FRAME_KEY = "frame_key"  # the info entry naming a step's frame


class FrameStore:
    """Next-state images by key (``0, 1, 2 ...`` in the order they were produced).

    Args:
        image_shape: ``(H, W, 3)`` of every frame.
        capacity: frames allocated at first; the store doubles when full.
    """

    def __init__(self, image_shape: tuple[int, ...], capacity: int = 4096) -> None:
        self._frames = np.zeros((capacity, *image_shape), dtype=np.uint8)
        self.size = 0

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(H, W, 3)``."""
        return self._frames.shape[1:]

    def add(self, image: np.ndarray) -> int:
        """File one uint8 ``(H, W, 3)`` frame; returns its key."""
        assert image.shape == self.image_shape, f"frame {image.shape}, store {self.image_shape}"
        if self.size == len(self._frames):
            grown = np.zeros((2 * self.size, *self.image_shape), dtype=np.uint8)
            grown[: self.size] = self._frames[: self.size]
            self._frames = grown
        self._frames[self.size] = image
        self.size += 1
        return self.size - 1

    def get(self, keys: np.ndarray | slice) -> np.ndarray:
        """Frames uint8 ``(N, H, W, 3)`` of ``keys`` (int ``(N,)`` or a slice of keys)."""
        if isinstance(keys, slice):
            keys = np.arange(self.size)[keys]
        keys = np.asarray(keys, dtype=np.int64)
        assert keys.size == 0 or (keys.min() >= 0 and keys.max() < self.size), "unknown frame key"
        return self._frames[keys]

    def save(self, path: Path) -> None:
        """Write the frames as ``.npy`` (loads without unpickling), atomically."""
        partial = path.with_name(path.name + ".partial")
        with open(partial, "wb") as f:
            np.save(f, self._frames[: self.size], allow_pickle=False)
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path) -> FrameStore:
        """The store :meth:`save` wrote; new frames continue the keys."""
        frames = np.load(path, allow_pickle=False)
        store = cls(frames.shape[1:], capacity=max(len(frames), 1))
        store._frames[: len(frames)] = frames
        store.size = len(frames)
        return store


class FrameRecorder(gym.Wrapper[Any, Any, Any, Any]):
    """Files each step's ``image`` (of a dict observation) in a :class:`FrameStore`.

    ``info["frame_key"]`` names the frame; observations pass on unchanged.
    """

    def __init__(self, env: gym.Env[Any, Any], store: FrameStore) -> None:
        super().__init__(env)
        self.store = store

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; the image reached is filed and ``info["frame_key"]`` names it."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        info[FRAME_KEY] = self.store.add(obs["image"])
        return obs, float(reward), terminated, truncated, info


class _FrameKeys:
    """Mixin for SB3 replay buffers: the frame key of every slot.

    ``frame_keys`` is int64 ``(buffer_size, n_envs)``, filled from ``info["frame_key"]`` when
    SB3 adds a transition.
    """

    buffer_size: int
    n_envs: int
    pos: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.frame_keys = np.full((self.buffer_size, self.n_envs), -1, dtype=np.int64)

    def add(  # noqa: D102 (SB3's signature)
        self,
        obs: Any,
        next_obs: Any,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        self.frame_keys[self.pos] = [info[FRAME_KEY] for info in infos]
        super().add(obs, next_obs, action, reward, done, infos)  # type: ignore[misc]

    def stored_frame_keys(self) -> np.ndarray:
        """Frame keys of the filled slots of the first env, int64 ``(size,)``."""
        filled: int = self.size()  # type: ignore[attr-defined]
        return self.frame_keys[:filled, 0]


class FrameReplayBuffer(_FrameKeys, ReplayBuffer):
    """SB3's replay buffer for flat observations, plus each transition's frame key."""


class FrameNStepReplayBuffer(_FrameKeys, NStepReplayBuffer):
    """SB3's n-step replay buffer, plus each transition's frame key.

    It sums the n rewards when it samples, so relabelled rewards count at once.
    """


class FrameDictReplayBuffer(_FrameKeys, DictReplayBuffer):
    """SB3's dict replay buffer (image policies), plus each transition's frame key."""


FrameKeyedBuffer = FrameReplayBuffer | FrameNStepReplayBuffer | FrameDictReplayBuffer


def frame_buffer(model: Any) -> FrameKeyedBuffer:
    """The frame-keyed replay buffer of an off-policy SB3 model."""
    buffer = getattr(model, "replay_buffer", None)
    assert isinstance(buffer, _FrameKeys), (
        "the learned reward needs an off-policy model built with a frame-keyed replay buffer"
    )
    return buffer  # type: ignore[return-value]


def relabel(
    buffer: FrameKeyedBuffer,
    frames: FrameStore,
    reward_fn: Callable[[np.ndarray], np.ndarray],
    chunk: int = 2048,
) -> int:
    """Recompute every stored reward (``rewards``: ``(size, n_envs)``) from its frame.

    ``reward_fn`` maps frames uint8 ``(N, H, W, 3)`` to rewards float32 ``(N,)`` (a ``RewardFn``).

    Returns:
        How many rewards were recomputed.
    """
    assert buffer.n_envs == 1, "relabelling assumes one env"
    keys = buffer.stored_frame_keys()
    for start in range(0, len(keys), chunk):
        stop = min(len(keys), start + chunk)
        rewards = reward_fn(frames.get(keys[start:stop]))
        assert rewards.shape == (stop - start,), f"reward shape {rewards.shape}"
        buffer.rewards[start:stop, 0] = rewards
    return len(keys)
