"""The success check's calibration: held-out AUC of goal images against random-action frames.

Usage: python -m benchmarks.success_check TASK [--image-size 48] [--goals 10] [--env-kwargs JSON]
       [--seeds 0 1] [--folds 5] [--steps 200]
For each seed: the task's rendered goal images (as a run renders them), 2,000 frames of random
actions (the frames a run's first classifier update sees), and
``reward.visibility.held_out_separation`` with the run's first-update steps (200; ``--steps``
asks what a classifier trained longer would tell apart). A task whose
success shows at this size reads near 1; the run warns under ``VISIBLE_AUC``.
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import torch

from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.goals import render_goals
from reward_learning.reward.visibility import held_out_separation
from reward_learning.tasks.make import make_env

FRAMES = 2_000


def random_frames(task: str, size: int, env_kwargs: str, seed: int) -> np.ndarray:
    """``FRAMES`` frames uint8 ``(N, size, size, 3)`` of random actions, episodes from ``seed``."""
    env = make_env(task, "dict", size, env_kwargs)
    env.action_space.seed(seed)
    frames, (obs, _) = [], env.reset(seed=seed)
    while len(frames) < FRAMES:
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        frames.append(obs["image"])
        if terminated or truncated:
            obs, _ = env.reset(seed=seed + len(frames))
    env.close()
    return np.stack(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--goals", type=int, default=10)
    parser.add_argument("--env-kwargs", default="")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for seed in args.seeds:
        started = time.perf_counter()
        goals = render_goals(
            args.task, args.goals, args.image_size, seed=10_000 + seed, progress=False,
            env_kwargs=args.env_kwargs,
        )  # fmt: skip
        frames = random_frames(args.task, args.image_size, args.env_kwargs, seed)
        separation = held_out_separation(
            goals, frames, functools.partial(SuccessClassifier, seed=seed, device="cpu"), args.steps,
            args.folds, seed,
        )  # fmt: skip
        print(
            f"{args.task} {args.image_size} px {args.env_kwargs or 'default camera'}, seed {seed}: "
            f"AUC {separation.auc:.3f} over {separation.folds} folds of {separation.goals} goal "
            f"images, {args.steps} steps ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
