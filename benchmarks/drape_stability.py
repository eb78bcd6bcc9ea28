"""Drape under random actions: does the cloth stay whole and outside the box?

Usage: python -m benchmarks.drape_stability [--episodes 1000]
Sticky random actions (a new uniform action with probability 0.2 a step) drive the gripper
into the box, the table and the ends of its range. Reports the largest edge stretch, the
deepest vertex inside the box, non-finite states and the success rate of random play, into
benchmarks/README.md between the drape-stability markers.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from benchmarks.report import machine, update_section
from reward_learning.tasks.make import make_env


def stress(episodes: int, seed: int = 0) -> dict[str, float]:
    """Random play for ``episodes`` episodes of Drape-v0 (state observations).

    Returns:
        ``max_stretch`` (edge length over rest length), ``box_penetration`` (metres),
        ``non_finite`` (steps with a NaN or inf state), ``success_rate`` (episodes ending in
        success) and ``steps_per_second``.
    """
    env = make_env("drape", obs_mode="state")
    drape = env.unwrapped
    rng = np.random.default_rng(seed)
    worst = {"max_stretch": 1.0, "box_penetration": 0.0}
    non_finite = successes = steps = 0
    start = time.perf_counter()
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        action = rng.uniform(-1, 1, 2)
        truncated = False
        while not truncated:
            if rng.uniform() < 0.2:
                action = rng.uniform(-1, 1, 2)
            state, _, _, truncated, info = env.step(action)
            steps += 1
            non_finite += not np.all(np.isfinite(state))
            for key, value in drape.cloth_health().items():
                worst[key] = max(worst[key], value)
        successes += info["is_success"]
    seconds = time.perf_counter() - start
    env.close()
    return {
        **worst,
        "non_finite": non_finite,
        "success_rate": successes / episodes,
        "steps_per_second": steps / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=1000)
    args = parser.parse_args()
    os.environ["LP_NUM_THREADS"] = "1"
    result = stress(args.episodes)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, one process, "
        f"`python -m benchmarks.drape_stability --episodes {args.episodes}` "
        f"({args.episodes * 100:,} env steps of sticky random actions).",
        "",
        "| largest edge stretch | deepest vertex centre inside the box | non-finite states "
        "| random play's success rate | steps/s (state only, with the checks) |",
        "|---|---|---|---|---|",
        f"| {result['max_stretch']:.3f}x rest length | {result['box_penetration'] * 1000:.1f} mm "
        f"(vertex radius 5 mm) | {result['non_finite']} | {result['success_rate']:.1%} "
        f"| {result['steps_per_second']:,.0f} |",
    ]
    update_section("drape-stability", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
