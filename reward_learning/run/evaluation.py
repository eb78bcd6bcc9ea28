"""A trained policy on fresh episodes: success rate, video, and ``reward-learning evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from reward_learning.errors import UserInputError
from reward_learning.frames import FrameStore
from reward_learning.learner.algorithms import OBS_STATS, make_learner, normalized_like_training
from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.run import checkpoint
from reward_learning.run.settings import TrainConfig, load_run_config
from reward_learning.tasks.make import make_policy_env, task_traits


def rollout(
    model: BaseAlgorithm, env: gym.Env[Any, Any], episodes: int, seed: int = 1_000
) -> tuple[float, float]:
    """Ground-truth success rate and mean env return of the deterministic policy.

    Episode ``k`` starts from ``env.reset(seed=seed + k)``; the caller owns (and closes) ``env``.
    """
    successes, total = 0, 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, info = False, dict[str, Any]()
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        successes += bool(info["is_success"])
    return successes / episodes, total / episodes


def rollout_success(
    model: BaseAlgorithm, env: gym.Env[Any, Any], episodes: int, seed: int = 1_000
) -> float:
    """Ground-truth success rate of the deterministic policy (see :func:`rollout`)."""
    return rollout(model, env, episodes, seed)[0]


def record_video(
    model: BaseAlgorithm,
    config: TrainConfig,
    path: Path,
    obs_stats: tuple[np.ndarray, np.ndarray] | None = None,
    episodes: int = 3,
    size: int = 256,
) -> Path:
    """An MP4 of the deterministic policy (``view`` camera, ``size`` pixels), ``episodes`` episodes."""
    import imageio.v2 as imageio

    env = make_policy_env(
        config.task, config.policy_input, config.image_size, env_kwargs=config.env_kwargs,
        proprio=config.proprio, render_mode="rgb_array", render_size=size,
    )  # fmt: skip
    env = normalized_like_training(env, config, obs_stats)
    frames: list[np.ndarray] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=2_000 + episode)
        done = False
        while not done:
            frames.append(np.asarray(env.render()))
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        frames.append(np.asarray(env.render()))
    env.close()
    # imageio's type stubs do not list the ffmpeg plugin's keyword arguments.
    imageio.mimsave(path, np.stack(frames), fps=env.metadata["render_fps"], macro_block_size=1)  # type: ignore[call-overload]
    return path


class SavedPolicy(NamedTuple):
    """A run's policy rebuilt from its latest checkpoint, with what running it needs."""

    config: TrainConfig
    checkpoint: Path
    model: BaseAlgorithm
    obs_stats: tuple[np.ndarray, np.ndarray] | None  # (mean, var) when trained normalized


def load_policy(run_dir: str | Path) -> SavedPolicy:
    """Rebuild a run's policy from its config and latest checkpoint (tensors only).

    Raises:
        UserInputError: not a run directory, or no checkpoint yet.
    """
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    saved = checkpoint.latest(run_dir)
    if saved is None:
        raise UserInputError(
            f"{run_dir} has no checkpoint yet (the first comes with the first evaluation)"
        )
    obs_stats = None
    if (saved / OBS_STATS).exists():
        with checkpoint.reading(saved):
            mean, var, _ = checkpoint.load_obs_stats(saved / OBS_STATS)
        obs_stats = (mean, var)
    env = make_policy_env(
        config.task, config.policy_input, config.image_size, env_kwargs=config.env_kwargs,
        proprio=config.proprio,
    )  # fmt: skip
    try:
        model = make_learner(config, env, FrameStore((config.image_size, config.image_size, 3), 1))
    finally:
        env.close()
    with checkpoint.reading(saved):
        checkpoint.load_learner_state(model, saved / "learner.pt")
    return SavedPolicy(config, saved, model, obs_stats)


def evaluate(run_dir: str | Path, episodes: int = 50, video: bool = True) -> dict[str, Any]:
    """Success rate of a saved run's policy over fresh episodes (and a video)."""
    config, saved, model, obs_stats = load_policy(run_dir)
    success_fn = None
    if not task_traits(config.task, config.env_kwargs).has_success:
        classifier = SuccessClassifier(seed=config.seed, device=config.device)
        classifier.load(saved / "classifier.pt")
        success_fn = classifier.is_success
    env = make_policy_env(
        config.task, config.policy_input, config.image_size, success_fn, config.env_kwargs,
        config.proprio,
    )  # fmt: skip
    env = normalized_like_training(env, config, obs_stats)
    try:
        success_rate = rollout_success(model, env, episodes)
    finally:
        env.close()
    result: dict[str, Any] = {
        "run": str(run_dir),
        "episodes": episodes,
        "success_rate": success_rate,
        "success_source": "ground truth" if success_fn is None else "classifier",
    }
    if video:
        result["video"] = str(record_video(model, config, Path(run_dir) / "policy.mp4", obs_stats))
    return result
