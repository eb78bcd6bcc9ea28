"""Training throughput by torch threads, alone and with two runs sharing the machine.

Usage: python -m benchmarks.threads [--seconds 90]
Each configuration starts its runs at once (separate processes); each run trains Push
(vice-raq, the defaults) and reports env steps per second once SAC's updates have begun (after
``learning_starts``), over ``--seconds`` of wall time. The table goes into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.report import machine, update_section

WORKER = """
import json, os, sys, time
os.environ.setdefault("MUJOCO_GL", "egl")
from stable_baselines3.common.callbacks import BaseCallback
from reward_learning.run.training import TrainingRun
from reward_learning.run.settings import task_config

threads, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

class Clock(BaseCallback):
    def __init__(self):
        super().__init__()
        self.start = None
        self.steps_per_s = None
    def _on_step(self):
        if self.start is None and self.num_timesteps >= 1000:
            self.start = (time.perf_counter(), self.num_timesteps)
        if self.start is not None and time.perf_counter() - self.start[0] > seconds:
            began, steps = self.start
            self.steps_per_s = (self.num_timesteps - steps) / (time.perf_counter() - began)
            return False
        return True

clock = Clock()
config = task_config("push", steps=100_000, threads=threads, out=out, progress=False,
                     video=False, eval_every=10**9, eval_episodes=1)
run = TrainingRun(config)
run.train(extra_callbacks=(clock,))  # the clock stops training after its seconds
print(json.dumps({"steps_per_s": clock.steps_per_s}))
"""

CONFIGURATIONS = [
    # (label, runs side by side, torch threads per run, extra environment)
    ("alone", 1, 1, {}),
    ("alone", 1, 2, {}),
    ("alone", 1, 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("two side by side", 2, 1, {}),
    ("two side by side", 2, 2, {}),
    ("two side by side", 2, 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
]


def measure(runs: int, threads: int, extra_env: dict[str, str], seconds: float) -> list[float]:
    """Env steps/s of each of ``runs`` processes started together."""
    with tempfile.TemporaryDirectory() as tmp:
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(threads), str(seconds), f"{tmp}/run{i}"],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "MUJOCO_GL": "egl", **extra_env},
            )  # fmt: skip
            for i in range(runs)
        ]
        outputs = [p.communicate()[0] for p in processes]
    return [json.loads(out.strip().splitlines()[-1])["steps_per_s"] for out in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=90.0)
    args = parser.parse_args()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, nothing else running: "
        f"`python -m benchmarks.threads --seconds {args.seconds:g}`. Push, vice-raq defaults "
        f"(two SAC gradient steps per env step); env steps/s over {args.seconds:g} s of SAC "
        "updates, per run.",
        "",
        "| runs | torch threads each | environment | env steps/s per run | machine total |",
        "|---|---|---|---|---|",
    ]
    for label, runs, threads, extra in CONFIGURATIONS:
        rates = measure(runs, threads, extra, args.seconds)
        environment = " ".join(f"{k}={v}" for k, v in extra.items()) or "-"
        lines.append(
            f"| {label} | {threads} | {environment} | "
            f"{', '.join(f'{r:.0f}' for r in rates)} | {sum(rates):.0f} |"
        )
        print(lines[-1], flush=True)
    update_section("threads", "\n".join(lines))


if __name__ == "__main__":
    main()
