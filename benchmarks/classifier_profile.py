"""The success classifier's reward by puck-to-target distance, as a run first trains it.

Usage: python -m benchmarks.classifier_profile [--seeds 3]
For each augmentation setting and seed: 20 goal images (``render_goals``, the run's seeds) vs
1,000 frames of random actions, 200 Adam steps; then mean log p(success) on 20 scripted pushes
(``PushEnv.scripted_action``), binned by the puck's distance to the target. Printed as a table
(benchmarks/README.md, "Where the steps go").
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from envs.push import TARGET
from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.goals import render_goals
from reward_learning.tasks.make import make_env

BINS = (0.01, 0.03, 0.045, 0.055, 0.07, 0.09, 0.12, 0.16)  # metres
SETTINGS = ((4, 1.0), (0, 1.0), (2, 1.0), (0, 0.0))  # (random shift in pixels, mixup alpha)


def profile(shift: int, mixup: float, seed: int) -> np.ndarray:
    """Mean log p per distance bin, float ``(len(BINS) - 1,)`` (NaN for an empty bin)."""
    goals = render_goals("push", 20, 48, seed=10_000 + seed, progress=False)
    env = make_env("push", obs_mode="dict", image_size=48)
    rng = np.random.default_rng(seed)
    explore = []
    env.reset(seed=seed)
    for _ in range(1000):
        obs, _, _, truncated, _ = env.step(rng.uniform(-1, 1, 2))
        explore.append(obs["image"])
        if truncated:
            env.reset()
    classifier = SuccessClassifier(seed=seed, device="cpu", shift=shift, mixup_alpha=mixup)
    classifier.train_steps(goals, np.stack(explore), 200)
    push = env.unwrapped
    frames, distances = [], []
    for episode in range(20):
        env.reset(seed=500 + episode)
        for _ in range(40):
            obs, *_ = env.step(push.scripted_action())  # type: ignore[attr-defined]
            frames.append(obs["image"])
            distances.append(np.linalg.norm(push.puck_xy - TARGET))  # type: ignore[attr-defined]
    env.close()
    log_p = -np.logaddexp(0, -classifier.logit(np.stack(frames)))
    which = np.digitize(distances, BINS)
    return np.array(
        [log_p[which == i].mean() if (which == i).any() else np.nan for i in range(1, len(BINS))]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    heads = [f"{BINS[i] * 100:g}-{BINS[i + 1] * 100:g} cm" for i in range(len(BINS) - 1)]
    print("| random shift, mixup | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for shift, mixup in SETTINGS:
        mean = np.nanmean([profile(shift, mixup, seed) for seed in range(args.seeds)], axis=0)
        print(
            f"| {shift} px, {mixup:g} | " + " | ".join(f"{v:.2f}" for v in mean) + " |", flush=True
        )


if __name__ == "__main__":
    main()
