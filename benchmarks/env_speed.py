"""Env steps per second with 64x64 image observations on one core, vs Gymnasium's Pusher-v5.

Targets: Push >= 2,000 steps/s (>= 50x Pusher-v5), Drape >= 200 steps/s (issue 3); Pusher-v5
under FastMujocoRender >= 20x its default renderer, in the same run (issue 13).

Usage: python -m benchmarks.env_speed [--steps 3000]
Writes the table into benchmarks/README.md between the env-speed markers.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np
import torch

from benchmarks.report import machine, update_section
from reward_learning.tasks import TASKS
from reward_learning.tasks.make import make_env


def steps_per_second(env: gym.Env, steps: int, render: bool = False) -> float:
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        if render:
            env.render()
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["LP_NUM_THREADS"] = "1"  # Mesa's software rasterizer: one core
    rows = []
    for task in TASKS:
        images = steps_per_second(make_env(task, obs_mode="dict", image_size=64), args.steps)
        state = steps_per_second(make_env(task, obs_mode="state"), args.steps)
        rows.append((task, images, state))
    pusher = gym.make("Pusher-v5", render_mode="rgb_array", width=64, height=64)
    pusher_images = steps_per_second(pusher, min(args.steps, 500), render=True)
    pusher_state = steps_per_second(gym.make("Pusher-v5"), args.steps)
    fast_pusher = make_env("Pusher-v5", obs_mode="dict", image_size=64)  # FastMujocoRender
    fast_images = steps_per_second(fast_pusher, args.steps)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, one core, "
        f"`python -m benchmarks.env_speed --steps {args.steps}`.",
        "",
        "| env | steps/s with 64x64 images | steps/s, state only | images vs Pusher-v5 with 64x64 rgb_array |",
        "|---|---|---|---|",
    ]
    for task, images, state in rows:
        lines.append(f"| {task} | {images:,.0f} | {state:,.0f} | {images / pusher_images:.0f}x |")
    lines.append(f"| Gymnasium Pusher-v5 | {pusher_images:,.0f} | {pusher_state:,.0f} | 1x |")
    lines.append(
        f"| Pusher-v5 as `--env` (FastMujocoRender) | {fast_images:,.0f} | {pusher_state:,.0f} "
        f"| {fast_images / pusher_images:.0f}x |"
    )
    update_section("env-speed", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
