"""Policies that see what a camera-only robot sees: stacked frames, the DrQ way.

* :class:`~reward_learning.tasks.views.PixelStack` (a Gymnasium wrapper) shows the policy the
  last frames and names them in ``info["stack_keys"]``.
* :class:`PixelReplayBuffer` (SB3's ``replay_buffer_class``) stores those keys and no image:
  each sampled batch reads its frames from the :class:`~reward_learning.frames.FrameStore` (the
  frames the classifier scores) and shifts them at random (DrQ: Kostrikov et al. 2020, pad 4).
* :class:`PixelEncoder` is the convolutional encoder; :class:`DrQPolicy` trains it by the
  critics' loss alone, as DrQ does (SB3 has no such mode, SB3 issue 425): the critic owns the
  encoder and its optimizer steps it, the actor reads its features detached through
  :class:`DetachedFeatures`, the target critic keeps its own copy (Polyak-averaged with the
  critic's parameters), and the actor loss's second pass of the critic over the same batch
  reuses the first pass's features, detached, so no gradient of the actor reaches the encoder.
  All of it through SB3's public ``make_actor``/``make_critic`` and features-extractor classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.tqc.policies import MultiInputPolicy as TQCMultiInputPolicy
from stable_baselines3.common.buffers import DictReplayBuffer
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import DictReplayBufferSamples
from stable_baselines3.sac.policies import MultiInputPolicy as SACMultiInputPolicy
from torch import nn

from reward_learning.frames import FrameKeysMixin, FrameStore
from reward_learning.tasks.views import PIXELS, PROPRIO, STACK_KEYS

SHIFT = 4  # pixels of DrQ's random shift


def random_shift(images: torch.Tensor, pad: int) -> torch.Tensor:
    """DrQ's augmentation: each image moved by up to ``pad`` pixels, edges repeated.

    Args:
        images: float ``(B, C, H, W)``.
        pad: the largest shift, in pixels.

    Returns:
        float ``(B, C, H, W)``, every image shifted by its own whole-pixel offset.
    """
    if pad == 0:
        return images
    batch, _, height, width = images.shape
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), device=images.device)
    rows = offsets[:, :1] + torch.arange(height, device=images.device)  # (B, H)
    cols = offsets[:, 1:] + torch.arange(width, device=images.device)  # (B, W)
    index = torch.arange(batch, device=images.device)[:, None, None]
    shifted = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return shifted.permute(0, 3, 1, 2)


class PixelReplayBuffer(FrameKeysMixin, DictReplayBuffer):
    """SB3's dict replay buffer holding frame keys where other buffers hold images.

    The ``pixels`` entry is not stored: each transition keeps the keys of its two frame stacks
    (``obs_keys``, ``next_obs_keys``: int64 ``(buffer_size, n_envs, stack)``), and a sampled
    batch reads them from ``frames``, shifted by up to ``shift`` pixels, as float32 ``(B, 3k,
    H, W)`` in [0, 255] on the learner's device. Memory: 2 x ``stack`` x 8 bytes a transition.

    Args:
        frames: the run's frame store (the reward's frames, stored once).
        shift: random-shift pad in pixels (0: none).
        Others: SB3's ``DictReplayBuffer``'s.
    """

    key_arrays = (*FrameKeysMixin.key_arrays, "obs_keys", "next_obs_keys")

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Dict,
        action_space: spaces.Space[Any],
        device: torch.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        frames: FrameStore | None = None,
        shift: int = SHIFT,
    ) -> None:
        pixels = observation_space[PIXELS]
        assert isinstance(pixels, spaces.Box) and frames is not None
        assert n_envs == 1, "frame stacks are keyed for one env"
        stored = spaces.Dict({k: v for k, v in observation_space.items() if k != PIXELS})
        super().__init__(
            buffer_size, stored, action_space, device, n_envs, optimize_memory_usage,
            handle_timeout_termination,
        )  # fmt: skip
        self.frames = frames
        self.shift = shift
        self.stack = pixels.shape[0] // 3
        self.obs_keys = np.zeros((self.buffer_size, self.n_envs, self.stack), dtype=np.int64)
        self.next_obs_keys = np.zeros_like(self.obs_keys)

    def add(  # noqa: D102 (SB3's signature)
        self,
        obs: Any,
        next_obs: Any,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        keys = np.stack([info[STACK_KEYS] for info in infos])  # (n_envs, 2, stack)
        self.obs_keys[self.pos], self.next_obs_keys[self.pos] = keys[:, 0], keys[:, 1]
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(  # type: ignore[override]  # SB3 types it for flat buffers
        self, batch_inds: np.ndarray, env: Any = None
    ) -> DictReplayBufferSamples:
        # SB3's hook for what a sampled batch holds (its own n-step and HER buffers use it too)
        samples = super()._get_samples(batch_inds, env)
        return samples._replace(
            observations={
                **samples.observations,
                PIXELS: self.pixels(self.obs_keys[batch_inds, 0]),
            },
            next_observations={
                **samples.next_observations,
                PIXELS: self.pixels(self.next_obs_keys[batch_inds, 0]),
            },
        )

    def pixels(self, keys: np.ndarray) -> torch.Tensor:
        """The frames of stacks ``keys`` int64 ``(B, k)``: shifted float32 ``(B, 3k, H, W)``."""
        batch = len(keys)
        images = torch.from_numpy(self.frames.get(keys.reshape(-1))).to(self.device)
        height, width = images.shape[1:3]
        stacked = images.view(batch, self.stack, height, width, 3).permute(0, 1, 4, 2, 3)
        return random_shift(
            stacked.reshape(batch, 3 * self.stack, height, width).float(), self.shift
        )


class PixelEncoder(BaseFeaturesExtractor):
    """Stacked frames to features: strided convolutions, then a LayerNorm'd linear trunk.

    ``pixels`` float ``(B, 3k, H, W)`` in [0, 255] (uint8 from the env at acting time) become
    ``trunk`` features (DrQ's 50, LayerNorm, tanh); ``proprio`` float ``(B, P)``, where the
    observation has it, is appended: ``features_dim = trunk + P``.

    The features of the latest batch are kept: a second call on the very same tensor (SAC's
    actor loss runs the critic again over the batch it just trained on) returns them detached,
    so only the critic's loss trains the encoder, and the convolutions run once.

    Args:
        observation_space: the policy's dict space (``pixels`` and maybe ``proprio``).
        channels: convolution channels.
        strides: one convolution (3x3) per entry, with that stride.
        trunk: features the convolutions are projected to.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        channels: int = 32,
        strides: tuple[int, ...] = (2, 2, 2),
        trunk: int = 50,
    ) -> None:
        shape: tuple[int, ...] = observation_space[PIXELS].shape  # type: ignore[assignment]
        proprio = observation_space.spaces.get(PROPRIO)
        extra = 0 if proprio is None else len(proprio.low)  # type: ignore[attr-defined]
        super().__init__(observation_space, features_dim=trunk + extra)
        layers: list[nn.Module] = []
        in_channels = shape[0]
        for stride in strides:
            layers += [nn.Conv2d(in_channels, channels, 3, stride=stride), nn.ReLU()]
            in_channels = channels
        self.convolutions = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            flat = self.convolutions(torch.zeros(1, *shape)).shape[1]
        self.trunk = nn.Sequential(nn.Linear(flat, trunk), nn.LayerNorm(trunk), nn.Tanh())
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:  # noqa: D102
        pixels = observations[PIXELS]
        if self._last is not None and self._last[0] is pixels:
            features = self._last[1].detach()
        else:
            features = self.trunk(self.convolutions(pixels / 255.0))
            self._last = (pixels, features) if torch.is_grad_enabled() else None
        if PROPRIO in observations:
            features = torch.cat([features, observations[PROPRIO]], dim=1)
        return features


class DetachedFeatures(BaseFeaturesExtractor):
    """The actor's view of the critic's encoder: the same features, computed without gradient."""

    def __init__(self, encoder: PixelEncoder) -> None:
        super().__init__(encoder._observation_space, features_dim=encoder.features_dim)
        self._encoder = (encoder,)  # a tuple: not a submodule, so not in the actor's optimizer

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:  # noqa: D102
        with torch.no_grad():
            return self._encoder[0](observations)


class DrQPolicy:
    """Mixin for SAC's and TQC's dict policies: one encoder, trained by the critics' loss.

    SB3 builds the actor, then the critic, then the target critic: the actor gets
    :class:`DetachedFeatures` of an encoder that the critic then takes as its own (so the
    critics' optimizer steps it), and the target critic a fresh copy.
    """

    make_features_extractor: Any
    features_extractor_class: Any

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> Any:  # noqa: D102
        self.shared_encoder = (self.make_features_extractor(),)
        return super().make_actor(DetachedFeatures(self.shared_encoder[0]))  # type: ignore[misc]

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> Any:  # noqa: D102
        first = getattr(self, "critic", None) is None
        encoder = self.shared_encoder[0] if first else None  # the target critic: its own copy
        return super().make_critic(encoder)  # type: ignore[misc]


class DrQSACPolicy(DrQPolicy, SACMultiInputPolicy):
    """SAC's dict policy with a DrQ encoder."""


class DrQTQCPolicy(DrQPolicy, TQCMultiInputPolicy):
    """TQC's dict policy with a DrQ encoder."""
