"""The policy's learner (SB3 SAC or sb3-contrib TQC), built from a run's config alone.

Checkpoints hold only tensors and arrays, so a saved run is rebuilt here and then loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib.tqc.policies import Critic as QuantileCritic
from sb3_contrib.tqc.policies import MultiInputPolicy as TQCMultiInputPolicy
from sb3_contrib.tqc.policies import TQCPolicy
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, create_mlp
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize
from stable_baselines3.sac.policies import MultiInputPolicy as SACMultiInputPolicy
from stable_baselines3.sac.policies import SACPolicy
from torch import nn

from reward_learning.frames import FrameNStepReplayBuffer, FrameReplayBuffer, FrameStore
from reward_learning.learner import ALGORITHMS, ENCODERS
from reward_learning.learner.pixels import (
    DrQPolicy,
    DrQSACPolicy,
    DrQTQCPolicy,
    PixelEncoder,
    PixelReplayBuffer,
)
from reward_learning.tasks import POLICY_INPUTS

if TYPE_CHECKING:
    from reward_learning.run.settings import TrainConfig

OBS_STATS = "obs_stats.npz"  # a checkpoint's observation statistics (normalize_obs)


DROQ_DROPOUT = 0.01


def dropped_positions(n: int, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flat positions in ``range(n)`` that dropout at rate ``p`` zeroes, each independently.

    Drawn as geometric gaps between dropped positions: about ``n * p`` random numbers instead of
    ``n`` (Bernoulli's), 5x faster than ``torch.nn.functional.dropout`` at DroQ's 1% on a
    (256, 256) activation on a CPU, the same distribution.
    """
    expected = n * p
    size = int(expected + 6 * expected**0.5 + 10)
    gaps = torch.empty(size, dtype=torch.float64).geometric_(p, generator=generator)
    positions = gaps.cumsum(0)
    while positions[-1] < n:  # rarely: the draw ended before the end of the tensor
        more = torch.empty(size, dtype=torch.float64).geometric_(p, generator=generator)
        positions = torch.cat([positions, positions[-1] + more.cumsum(0)])
    return positions[positions <= n].long() - 1


class _CriticDropout(nn.Module):
    """DroQ's dropout (rate ``DROQ_DROPOUT``), built as ``create_mlp`` builds its modules.

    ``create_mlp`` passes a width, unused. Positions come from :func:`dropped_positions`: at 1%,
    Bernoulli's per-element draws cost more than the critic's matrix products on a CPU.
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.p = DROQ_DROPOUT

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if not self.training:
            return x
        if x.device.type != "cpu":  # the sparse draw pays on a CPU; elsewhere it would copy
            return nn.functional.dropout(x, self.p, training=True)
        mask = torch.full((x.numel(),), 1.0 / (1.0 - self.p), dtype=x.dtype)
        mask[dropped_positions(x.numel(), self.p)] = 0.0
        return x * mask.view_as(x)


def _normalize_q_networks(
    critic: ContinuousCritic | QuantileCritic,
    features_dim: int,
    outputs: int,
    net_arch: list[int],
    activation_fn: type[nn.Module],
    post_linear: list[type[nn.Module]],
) -> None:
    """Rebuild a critic's Q-networks with ``post_linear`` modules after each hidden layer.

    They keep their names (``qf0``, ``qf1`` ...), so a checkpoint's keys stay SB3's.
    """
    inputs = features_dim + int(critic.action_space.shape[0])  # type: ignore[index]
    critic.q_networks = []
    for idx in range(critic.n_critics):
        layers = create_mlp(
            inputs, outputs, net_arch, activation_fn, post_linear_modules=post_linear
        )
        critic.add_module(f"qf{idx}", nn.Sequential(*layers))  # replaces the plain MLP
        critic.q_networks.append(getattr(critic, f"qf{idx}"))


class NormalizedCritic(ContinuousCritic):
    """SAC's twin critics with ``post_linear`` modules (LayerNorm, dropout) after each layer.

    The other arguments are :class:`~stable_baselines3.common.policies.ContinuousCritic`'s.
    """

    def __init__(self, *args: Any, post_linear: list[type[nn.Module]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _normalize_q_networks(
            self, kwargs["features_dim"], 1, kwargs["net_arch"],
            kwargs.get("activation_fn", nn.ReLU), post_linear,
        )  # fmt: skip


class NormalizedQuantileCritic(QuantileCritic):
    """TQC's quantile critics with ``post_linear`` modules after each hidden layer.

    The other arguments are :class:`sb3_contrib.tqc.policies.Critic`'s.
    """

    def __init__(self, *args: Any, post_linear: list[type[nn.Module]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _normalize_q_networks(
            self, kwargs["features_dim"], self.n_quantiles, kwargs["net_arch"],
            kwargs.get("activation_fn", nn.ReLU), post_linear,
        )  # fmt: skip


POST_LINEAR: dict[str, list[type[nn.Module]]] = {
    "layernorm": [nn.LayerNorm],
    "droq": [_CriticDropout, nn.LayerNorm],
}


class _NormalizedCritics:
    """Mixin for SAC's and TQC's policies: critics with ``post_linear`` modules (``critic``)."""

    critic_kwargs: dict[str, Any]
    device: Any
    critic_class: type[NormalizedCritic] | type[NormalizedQuantileCritic]

    def __init__(self, *args: Any, critic: str = "layernorm", **kwargs: Any) -> None:
        self.post_linear = POST_LINEAR[critic]
        super().__init__(*args, **kwargs)

    def make_critic(  # type: ignore[override]  # noqa: D102 (SB3's signature)
        self, features_extractor: BaseFeaturesExtractor | None = None
    ) -> Any:
        kwargs = self._update_features_extractor(self.critic_kwargs, features_extractor)  # type: ignore[attr-defined]
        return self.critic_class(post_linear=self.post_linear, **kwargs).to(self.device)


class NormalizedCriticPolicy(_NormalizedCritics, SACPolicy):
    """SAC's state policy with :class:`NormalizedCritic` critics."""

    critic_class = NormalizedCritic


class NormalizedCriticMultiInputPolicy(_NormalizedCritics, SACMultiInputPolicy):
    """SAC's dict-observation policy with :class:`NormalizedCritic` critics."""

    critic_class = NormalizedCritic


class NormalizedTQCPolicy(_NormalizedCritics, TQCPolicy):
    """TQC's state policy with :class:`NormalizedQuantileCritic` critics."""

    critic_class = NormalizedQuantileCritic


class NormalizedTQCMultiInputPolicy(_NormalizedCritics, TQCMultiInputPolicy):
    """TQC's dict-observation policy with :class:`NormalizedQuantileCritic` critics."""

    critic_class = NormalizedQuantileCritic


class DrQNormalizedSACPolicy(DrQPolicy, NormalizedCriticMultiInputPolicy):
    """SAC's pixel policy (a DrQ encoder) with :class:`NormalizedCritic` critics."""


class DrQNormalizedTQCPolicy(DrQPolicy, NormalizedTQCMultiInputPolicy):
    """TQC's pixel policy (a DrQ encoder) with :class:`NormalizedQuantileCritic` critics."""


NORMALIZED_POLICIES = {"sac": NormalizedCriticPolicy, "tqc": NormalizedTQCPolicy}
"""State policies with normalized critics, by algorithm (pixel policies: ``DRQ_POLICIES``)."""


def policy_vec_env(
    make: Callable[[], gym.Env[Any, Any]], config: TrainConfig, training: bool = True
) -> VecEnv:
    """The vectorized env the policy acts in.

    ``normalize_obs``: VecNormalize over the state vector (or a pixel policy's
    proprioception; frames are never normalized); ``training=False`` for evaluation
    (EvalCallback copies the training statistics in).
    """
    venv: VecEnv = DummyVecEnv([make])
    key = POLICY_INPUTS.build(config.policy_input).normalized_key
    if config.normalize_obs and key is not None:
        venv = VecNormalize(
            venv,
            training=training,
            norm_reward=False,
            gamma=config.gamma,
            norm_obs_keys=[key] if key else None,
        )
    return venv


def obs_rms(venv: VecNormalize) -> RunningMeanStd:
    """The running statistics of the state vector (or of a pixel policy's ``proprio``)."""
    stats = next(iter(venv.obs_rms.values())) if isinstance(venv.obs_rms, dict) else venv.obs_rms
    assert isinstance(stats, RunningMeanStd)
    return stats


def normalized_like_training(
    env: gym.Env[Any, Any], config: TrainConfig, obs_stats: tuple[np.ndarray, np.ndarray] | None
) -> gym.Env[Any, Any]:
    """``env`` (one episode at a time) with observations normalized as in training.

    ``obs_stats``: the trained policy's frozen ``(mean, var)``. The formula, epsilon and clip are
    those of the VecNormalize that :func:`policy_vec_env` builds (its public ``normalize_obs``).
    """
    if obs_stats is None:
        return env
    normalizer = policy_vec_env(lambda: env, config, training=False)
    if not isinstance(normalizer, VecNormalize):
        return env
    stats = obs_rms(normalizer)
    stats.mean, stats.var = obs_stats
    return gym.wrappers.TransformObservation(
        env, normalizer.normalize_obs, normalizer.observation_space
    )


DRQ_POLICIES = {
    ("sac", False): DrQSACPolicy,
    ("sac", True): DrQNormalizedSACPolicy,
    ("tqc", False): DrQTQCPolicy,
    ("tqc", True): DrQNormalizedTQCPolicy,
}
"""Pixel policies by algorithm and whether their critics are normalized (``--critic``)."""


def make_learner(
    config: TrainConfig, env: gym.Env[Any, Any] | VecEnv, frames: FrameStore
) -> OffPolicyAlgorithm:
    """The policy's learner for ``env``, built from the config alone (checkpoints hold tensors).

    ``frames``: the run's frame store, from which a pixel policy's batches read their frames.
    """
    c = config
    pixels = POLICY_INPUTS.build(c.policy_input).pixels
    # Fused Adam: one kernel per step instead of several per parameter; on this CPU it took the
    # actor's and critics' optimizer steps from 2.5 to 1.0 ms of a 13 ms gradient step.
    policy_kwargs: dict[str, Any] = {"net_arch": [256, 256], "optimizer_kwargs": {"fused": True}}
    policy: str | type[Any] = "MlpPolicy"
    buffer: dict[str, Any] = {
        "replay_buffer_class": FrameNStepReplayBuffer if c.n_steps > 1 else FrameReplayBuffer,
        "replay_buffer_kwargs": {"n_steps": c.n_steps, "gamma": c.gamma} if c.n_steps > 1 else None,
    }
    if c.critic != "mlp":
        policy = NORMALIZED_POLICIES[c.algo]
        policy_kwargs["critic"] = c.critic
    if pixels:
        policy = DRQ_POLICIES[c.algo, c.critic != "mlp"]
        # The encoder divides by 255 itself: SB3's own scaling would copy each batch, and the
        # encoder recognizes a batch it has seen by its tensor (pixels.PixelEncoder).
        policy_kwargs.update(
            features_extractor_class=PixelEncoder,
            features_extractor_kwargs=ENCODERS.build(c.encoder),
            normalize_images=False,
        )
        buffer = {
            "replay_buffer_class": PixelReplayBuffer,
            "replay_buffer_kwargs": {"frames": frames},
        }
    return ALGORITHMS.get(c.algo)(
        policy,  # type: ignore[arg-type]
        env,
        buffer_size=1_000_000,  # transitions hold no images: frames live once, in the store
        **buffer,
        learning_starts=c.learning_starts,
        gradient_steps=c.gradient_steps,
        batch_size=c.batch_size,
        gamma=c.gamma,
        ent_coef=c.ent_coef,
        learning_rate=c.learning_rate,
        policy_kwargs=policy_kwargs,
        seed=c.seed,
        device=c.device,
        verbose=0,
    )  # fmt: skip
