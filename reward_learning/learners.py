"""The policy's learner (SB3 SAC or sb3-contrib TQC), built from a run's config alone.

Checkpoints hold only tensors and arrays, so a saved run is rebuilt here and then loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
from sb3_contrib import TQC
from stable_baselines3 import SAC
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize, VecTransposeImage

from reward_learning.frames import FrameDictReplayBuffer, FrameNStepReplayBuffer, FrameReplayBuffer

if TYPE_CHECKING:  # run_config takes its algorithm names from ALGOS
    from reward_learning.run_config import TrainConfig

ALGOS: dict[str, type[SAC] | type[TQC]] = {"sac": SAC, "tqc": TQC}

OBS_STATS = "obs_stats.npz"  # a checkpoint's observation statistics (normalize_obs)
STATE_KEYS: dict[str, list[str] | None] = {"state": None, "image": ["state"]}
"""What VecNormalize normalizes: the whole (flat) observation, or a dict's state vector."""


def policy_vec_env(
    make: Callable[[], gym.Env[Any, Any]], config: TrainConfig, training: bool = True
) -> VecEnv:
    """The vectorized env the policy acts in.

    SB3's channel-first images for image policies, then (``normalize_obs``) VecNormalize over
    the state; ``training=False`` for evaluation (EvalCallback copies the training statistics
    in).
    """
    venv: VecEnv = DummyVecEnv([make])
    if config.policy_input == "image":  # SB3's channel-first images, inside VecNormalize
        venv = VecTransposeImage(venv)
    if config.normalize_obs:
        venv = VecNormalize(
            venv,
            training=training,
            norm_reward=False,
            gamma=config.gamma,
            norm_obs_keys=STATE_KEYS[config.policy_input],
        )
    return venv


def make_learner(config: TrainConfig, env: gym.Env[Any, Any] | VecEnv) -> SAC | TQC:
    """The policy's learner for ``env``, built from the config alone (checkpoints hold tensors)."""
    c = config
    state = c.policy_input == "state"
    return ALGOS[c.algo](
        "MlpPolicy" if state else "MultiInputPolicy",
        env,
        # Image policies keep 2 images per transition: about 14 KB each at 48 px.
        buffer_size=1_000_000 if state else 100_000,
        replay_buffer_class=(
            FrameDictReplayBuffer if not state
            else FrameNStepReplayBuffer if c.n_steps > 1
            else FrameReplayBuffer
        ),
        replay_buffer_kwargs={"n_steps": c.n_steps, "gamma": c.gamma} if c.n_steps > 1 else None,
        learning_starts=c.learning_starts,
        gradient_steps=c.gradient_steps,
        gamma=c.gamma,
        ent_coef=c.ent_coef,
        learning_rate=c.learning_rate,
        policy_kwargs={"net_arch": [256, 256]},
        seed=c.seed,
        device=c.device,
        verbose=0,
    )  # fmt: skip
