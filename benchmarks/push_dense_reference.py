"""SAC on Push from a hand-made dense reward: what the SAC settings can learn in 20k steps.

No classifier and no images: the reward is docs/ARCHITECTURE.md's calibration reward,
``-10 * (puck-to-target + 0.5 * pusher-to-puck)`` in metres, read from the env's ``info``. It
separates SAC's own sample efficiency from the learned reward's shaping, and chose the
training defaults of ``learning_rate`` and ``gradient_steps``.

Usage: python -m benchmarks.push_dense_reference [--settings 3e-4,1 1e-3,1 1e-3,2]
       [--seeds 0 1] [--steps 20000] [--parallel 2]
Each setting is ``learning_rate,gradient_steps``.
Writes a table into benchmarks/README.md between the push-dense-reference markers.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import SAC

from benchmarks.report import machine, update_section
from reward_learning.run.evaluation import rollout_success
from reward_learning.tasks.make import make_env

EVAL_EVERY = 2000
EVAL_EPISODES = 20


class DenseReward(gym.Wrapper[Any, Any, Any, Any]):
    """``-scale * (puck-to-target + 0.5 * pusher-to-puck)``, metres: docs/ARCHITECTURE.md's calibration."""

    def __init__(self, env: gym.Env[Any, Any], scale: float = 10.0) -> None:
        super().__init__(env)
        self.scale = scale

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; the reward comes from the distances in ``info``."""
        obs, _, terminated, truncated, info = self.env.step(action)
        reward = -self.scale * (info["puck_to_target"] + 0.5 * info["pusher_to_puck"])
        return obs, reward, terminated, truncated, info


def run_one(
    learning_rate: float, gradient_steps: int, seed: int, steps: int
) -> tuple[list[float], float]:
    """Success rates every ``EVAL_EVERY`` steps, and the wall time in seconds."""
    torch.set_num_threads(1)
    model = SAC(
        "MlpPolicy", DenseReward(make_env("push", obs_mode="state")),
        learning_rate=learning_rate, gradient_steps=gradient_steps, learning_starts=1000,
        policy_kwargs={"net_arch": [256, 256]}, seed=seed, verbose=0,
    )  # fmt: skip
    eval_env = make_env("push", obs_mode="state")
    started = time.perf_counter()
    curve = []
    for _ in range(steps // EVAL_EVERY):
        model.learn(EVAL_EVERY, reset_num_timesteps=False)
        curve.append(rollout_success(model, eval_env, EVAL_EPISODES))
    seconds = time.perf_counter() - started
    eval_env.close()
    return curve, seconds


def setting(text: str) -> tuple[float, int]:
    """``"1e-3,2"`` -> ``(0.001, 2)``: a learning rate and gradient steps per env step."""
    try:
        rate, steps = text.split(",")
        return float(rate), int(steps)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected learning_rate,gradient_steps such as 1e-3,1"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--settings", nargs="+", type=setting, default=[(3e-4, 1), (1e-3, 1), (1e-3, 2)]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()

    jobs = [(lr, gs, seed) for lr, gs in args.settings for seed in args.seeds]
    with ProcessPoolExecutor(args.parallel) as pool:
        futures = [pool.submit(run_one, *job, args.steps) for job in jobs]
        results = [f.result() for f in futures]
    steps = [EVAL_EVERY * (k + 1) for k in range(args.steps // EVAL_EVERY)]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, one thread per run, "
        f"`python -m benchmarks.push_dense_reference {' '.join(sys.argv[1:])}` "
        f"({args.parallel} runs at a time). SB3 SAC, state input, MLP 256-256, learning_starts "
        f"1000; success rate over {EVAL_EPISODES} episodes every {EVAL_EVERY} steps.",
        "",
        "| learning rate | gradient steps | seed | "
        + " | ".join(f"{s // 1000}k" for s in steps)
        + " | wall min |",
        "|---|---|---|" + "---|" * (len(steps) + 1),
    ]
    finals: dict[tuple[float, int], list[float]] = {pair: [] for pair in args.settings}
    for (lr, gs, seed), (curve, seconds) in zip(jobs, results, strict=True):
        cells = " | ".join(f"{x:.0%}" for x in curve)
        lines.append(f"| {lr:g} | {gs} | {seed} | {cells} | {seconds / 60:.1f} |")
        finals[lr, gs].append(curve[-1])
    summary = ", ".join(f"{lr:g} x {gs}: {np.mean(f):.0%}" for (lr, gs), f in finals.items())
    lines += ["", f"Mean success at the last step (learning rate x gradient steps): {summary}."]
    update_section("push-dense-reference", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
