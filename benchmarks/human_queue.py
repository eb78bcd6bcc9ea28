"""Training speed with ``--oracle human`` and nobody answering, against the simulated oracle.

Target (issue 14): within 5%. Usage: python -m benchmarks.human_queue [--steps 4000]
Trains Push twice in this process, one after the other (vice-raq, the defaults but queries every
500 env steps so that frames pile up): once with the simulated oracle, once with the queued
human window open and no key pressed. Env steps per second are taken from step 1,000 (SAC's
updates on) to the end. Needs a display: starts Xvfb when DISPLAY is unset.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time

from stable_baselines3.common.callbacks import BaseCallback

from benchmarks.report import machine, update_section
from reward_learning.run.settings import task_config
from reward_learning.run.training import TrainingRun


class Clock(BaseCallback):
    """Env steps per second from ``start`` on."""

    def __init__(self, start: int = 1000) -> None:
        super().__init__()
        self.start = start
        self.began: tuple[float, int] | None = None
        self.rate = 0.0

    def _on_step(self) -> bool:
        if self.began is None and self.num_timesteps >= self.start:
            self.began = (time.perf_counter(), self.num_timesteps)
        elif self.began is not None:
            seconds = time.perf_counter() - self.began[0]
            self.rate = (self.num_timesteps - self.began[1]) / max(seconds, 1e-9)
        return True


def steps_per_second(oracle: str, steps: int, out: str) -> tuple[float, int]:
    """(env steps/s, frames left pending) of one run."""
    config = task_config(
        "push", oracle=oracle, steps=steps, queries_every=500, eval_every=steps,
        eval_episodes=5, progress=False, video=False, out=out,
    )  # fmt: skip
    run = TrainingRun(config, overwrite=True)
    clock = Clock()
    run.train(extra_callbacks=(clock,))
    return clock.rate, len(run.store.pending())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=4000)
    args = parser.parse_args()
    server = None
    if not os.environ.get("DISPLAY"):
        if not shutil.which("Xvfb"):
            raise SystemExit("needs a display or Xvfb (apt install xvfb)")
        server = subprocess.Popen(["Xvfb", ":97", "-screen", "0", "1024x768x24"])
        os.environ["DISPLAY"] = ":97"
        time.sleep(1.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            simulated, _ = steps_per_second("simulated", args.steps, f"{tmp}/simulated")
            human, pending = steps_per_second("human", args.steps, f"{tmp}/human")
    finally:
        if server is not None:
            server.terminate()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, one run at a time, one torch "
        f"thread: `python -m benchmarks.human_queue --steps {args.steps}`.",
        "",
        "| oracle | env steps/s after step 1,000 | frames left pending |",
        "|---|---|---|",
        f"| simulated | {simulated:.1f} | 0 |",
        f"| human, queued, nobody answering | {human:.1f} | {pending} |",
        "",
        f"The queued window costs {100 * (1 - human / simulated):.1f}% of the simulated "
        "oracle's speed (target: within 5%).",
    ]
    update_section("human-queue", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
