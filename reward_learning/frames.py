"""The images behind the policy's transitions, kept out of the policy learner's way.

One owner for the rule "a frame's key is the order in which the training env produced it":

* :class:`FrameStore` holds every next-state image the training env produced, by key.
* :class:`FrameRecorder` (a Gymnasium wrapper) files each step's image in the store and puts
  its key in ``info["frame_key"]``; the policy reads only what
  :func:`reward_learning.tasks.make.policy_view` passes on.
* :class:`FrameReplayBuffer` / :class:`FrameNStepReplayBuffer` (SB3's ``replay_buffer_class``;
  pixel policies' :class:`~reward_learning.learner.pixels.PixelReplayBuffer`) remember the frame key of
  every slot, so :func:`relabel` can recompute the rewards of the
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
from stable_baselines3.common.buffers import NStepReplayBuffer, ReplayBuffer

FRAME_KEY = "frame_key"  # the info entry naming a step's frame


class FrameStore:
    """Next-state images by key (``0, 1, 2 ...`` in the order they were produced).

    Beside each frame it keeps, where the env has one, the scene state that draws the moment
    again (:mod:`reward_learning.tasks.scenes`), so that a person asked about the frame sees it large.

    Args:
        image_shape: ``(H, W, 3)`` of every frame.
        capacity: frames allocated at first; the store doubles when full.
    """

    def __init__(self, image_shape: tuple[int, ...], capacity: int = 4096) -> None:
        self._frames = np.zeros((capacity, *image_shape), dtype=np.uint8)
        self._scenes: np.ndarray | None = None  # float32 (capacity, S); NaN rows: none kept
        self.size = 0

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(H, W, 3)``."""
        return self._frames.shape[1:]

    @property
    def nbytes(self) -> int:
        """Bytes allocated for frames and scene states (up to twice what is filled)."""
        return self._frames.nbytes + (0 if self._scenes is None else self._scenes.nbytes)

    def add(self, image: np.ndarray, scene: np.ndarray | None = None) -> int:
        """File one uint8 ``(H, W, 3)`` frame and its float ``(S,)`` scene state; returns its key."""
        assert image.shape == self.image_shape, f"frame {image.shape}, store {self.image_shape}"
        if self.size == len(self._frames):
            self._frames = _doubled(self._frames, self.size, 0)
            if self._scenes is not None:
                self._scenes = _doubled(self._scenes, self.size, np.nan)
        if scene is not None and self._scenes is None:
            self._scenes = np.full((len(self._frames), len(scene)), np.nan, dtype=np.float32)
        self._frames[self.size] = image
        if self._scenes is not None and scene is not None:
            self._scenes[self.size] = scene
        self.size += 1
        return self.size - 1

    def get(self, keys: np.ndarray | slice) -> np.ndarray:
        """Frames uint8 ``(N, H, W, 3)`` of ``keys`` (int ``(N,)`` or a slice of keys)."""
        if isinstance(keys, slice):
            keys = np.arange(self.size)[keys]
        keys = np.asarray(keys, dtype=np.int64)
        assert keys.size == 0 or (keys.min() >= 0 and keys.max() < self.size), "unknown frame key"
        return self._frames[keys]

    def scene(self, key: int) -> np.ndarray | None:
        """The scene state float32 ``(S,)`` filed with frame ``key``; ``None`` where none was."""
        assert 0 <= key < self.size, "unknown frame key"
        if self._scenes is None or np.isnan(self._scenes[key]).all():
            return None
        return self._scenes[key].copy()

    def save(self, path: Path) -> None:
        """Write the frames as ``.npy`` (loads without unpickling), atomically.

        The scene states, if any, go to ``scenes.npy`` beside it.
        """
        _save_npy(self._frames[: self.size], path)
        if self._scenes is not None:
            _save_npy(self._scenes[: self.size], path.with_name(SCENES_FILE))

    @classmethod
    def load(cls, path: Path) -> FrameStore:
        """The store :meth:`save` wrote; new frames continue the keys."""
        frames = np.load(path, allow_pickle=False)
        store = cls(frames.shape[1:], capacity=max(len(frames), 1))
        store._frames[: len(frames)] = frames
        store.size = len(frames)
        scenes = path.with_name(SCENES_FILE)
        if scenes.exists():  # checkpoints written before scene states were kept have none
            store._scenes = np.load(scenes, allow_pickle=False)
            assert len(store._scenes) == len(frames), f"{scenes} does not match {path}"
        return store


SCENES_FILE = "scenes.npy"


def _doubled(array: np.ndarray, filled: int, fill: float) -> np.ndarray:
    grown = np.full((2 * len(array), *array.shape[1:]), fill, dtype=array.dtype)
    grown[:filled] = array[:filled]
    return grown


def _save_npy(array: np.ndarray, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        np.save(f, array, allow_pickle=False)
    os.replace(partial, path)


class FrameRecorder(gym.Wrapper[Any, Any, Any, Any]):
    """Files each step's ``image`` (of a dict observation) in a :class:`FrameStore`.

    ``info["frame_key"]`` names the frame; observations pass on unchanged. With each frame goes
    ``scene(env)``, the state that draws the moment again (a
    :func:`~reward_learning.tasks.scenes.scene_state`), where one is given.

    Args:
        env: emits ``{"image": uint8 (H, W, 3), ...}``.
        store: where the frames go.
        scene: the scene state of the env's current moment, or ``None``.
        file_resets: file each episode's first frame too (``reset``'s ``info["frame_key"]``),
            for policies that see frames: theirs are read from the store.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        store: FrameStore,
        scene: Callable[[gym.Env[Any, Any]], np.ndarray | None] | None = None,
        file_resets: bool = False,
    ) -> None:
        super().__init__(env)
        self.store = store
        self.scene = scene
        self.file_resets = file_resets

    def _file(self, image: np.ndarray) -> int:
        return self.store.add(image, None if self.scene is None else self.scene(self.env))

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset; with ``file_resets``, the first frame is filed and named as a step's is."""
        obs, info = self.env.reset(**kwargs)
        if self.file_resets:
            info[FRAME_KEY] = self._file(obs["image"])
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step; the image reached is filed and ``info["frame_key"]`` names it."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        info[FRAME_KEY] = self._file(obs["image"])
        return obs, float(reward), terminated, truncated, info


class FrameKeysMixin:
    """Mixin for SB3 replay buffers: the frame key of every slot.

    ``frame_keys`` is int64 ``(buffer_size, n_envs)``, filled from ``info["frame_key"]`` when
    SB3 adds a transition.
    """

    key_arrays: tuple[str, ...] = ("frame_keys",)
    """The buffer's arrays of frame keys, beside SB3's own (a checkpoint saves them by name)."""
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


class FrameReplayBuffer(FrameKeysMixin, ReplayBuffer):
    """SB3's replay buffer for flat observations, plus each transition's frame key."""


class FrameNStepReplayBuffer(FrameKeysMixin, NStepReplayBuffer):
    """SB3's n-step replay buffer, plus each transition's frame key.

    It sums the n rewards when it samples, so relabelled rewards count at once.
    """


FrameKeyedBuffer = FrameReplayBuffer | FrameNStepReplayBuffer


def frame_buffer(model: Any) -> FrameKeyedBuffer:
    """The frame-keyed replay buffer of an off-policy SB3 model."""
    buffer = getattr(model, "replay_buffer", None)
    assert isinstance(buffer, FrameKeysMixin), (
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
