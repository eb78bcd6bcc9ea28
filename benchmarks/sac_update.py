"""Milliseconds per SAC gradient step on Push's spaces, and where they go, by batch size and critic.

Usage: python -m benchmarks.sac_update [--steps 300] [--threads 1]
The learner is the one ``reward-learning train`` builds (``learner.algorithms.make_learner``), on an env
with Push's state and action spaces and random transitions: the update's cost does not depend
on what the transitions hold. Each row times ``--steps`` gradient steps after a warm-up, then
splits another 100 by torch's profiler (self CPU time). The table goes into benchmarks/README.md.
Run it alone on the machine: the figures are per-step wall times.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import profiler

from benchmarks.report import machine, update_section
from reward_learning.frames import FRAME_KEY, FrameStore
from reward_learning.learner.algorithms import make_learner
from reward_learning.run.settings import TrainConfig
from reward_learning.tasks.make import make_env
from reward_learning.tasks.views import policy_view

VARIANTS: list[dict[str, Any]] = [
    {"batch_size": 128},
    {"batch_size": 256},
    {"batch_size": 128, "critic": "mlp"},
]
SELF_TIME_PARTS = {
    "matrix products": ("aten::mm", "aten::addmm"),
    "dropout draws": ("aten::geometric_", "aten::bernoulli_"),
}
PARTS = (*SELF_TIME_PARTS, "optimizer steps")


class RandomTransitions(gym.Env[np.ndarray, np.ndarray]):
    """Random observations in a task's spaces, with the frame key the replay buffer expects."""

    def __init__(self, like: gym.Env[Any, Any]) -> None:
        self.observation_space = like.observation_space
        self.action_space = like.action_space
        self.key = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:  # noqa: D102
        return self.observation_space.sample(), {}

    def step(self, action: np.ndarray) -> Any:  # noqa: D102
        self.key += 1
        return self.observation_space.sample(), 0.0, False, False, {FRAME_KEY: self.key}


def measure(settings: dict[str, Any], steps: int) -> tuple[float, dict[str, float]]:
    """Milliseconds per gradient step, and the profiler's milliseconds per step by part."""
    env = RandomTransitions(policy_view(make_env("push", image_size=48), "state"))
    model = make_learner(TrainConfig(**settings), env, FrameStore((48, 48, 3)))
    model.learn(model.learning_starts + 100)  # fills the buffer; the first updates warm up
    started = time.perf_counter()
    model.train(gradient_steps=steps, batch_size=model.batch_size)
    per_step = 1000 * (time.perf_counter() - started) / steps
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU]) as prof:
        model.train(gradient_steps=100, batch_size=model.batch_size)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    parts = {
        part: sum(e.self_cpu_time_total for e in events if e.key in ops)
        for part, ops in SELF_TIME_PARTS.items()
    }
    # Adam's steps with everything they call (the entropy coefficient's own Adam included).
    parts["optimizer steps"] = sum(
        e.cpu_time_total for e in events if e.key.startswith("Optimizer.step")
    )
    parts = {k: v / total * per_step for k, v in parts.items()}
    return per_step, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}: `python -m benchmarks.sac_update "
        f"--steps {args.steps} --threads {args.threads}`. One SAC gradient step of the learner "
        "`train` builds (256x256 actor and twin critics), Push's 4-d state and 2-d action; the "
        "split is the profiler's self CPU time, scaled to the step's wall time.",
        "",
        "| settings | ms per gradient step | " + " | ".join(PARTS) + " |",
        "|---|---|" + "---|" * len(PARTS),
    ]
    for settings in VARIANTS:
        per_step, parts = measure(settings, args.steps)
        name = ", ".join(f"{k}={v}" for k, v in settings.items())
        lines.append(
            f"| {name} | {per_step:.1f} | " + " | ".join(f"{parts[p]:.1f}" for p in PARTS) + " |"
        )
        print(lines[-1], flush=True)
    update_section("sac-update", "\n".join(lines))


if __name__ == "__main__":
    main()
