"""Where the steps go: the learned reward against the puck's true distance, during training.

A benchmark-only callback for Push. Every ``every`` env steps it reads the replay buffer's
last ``window`` transitions (the policy's own frames) and logs, through SB3's logger
(``logs/progress.csv``, TensorBoard):

* ``diag/reward_distance_corr``: Spearman correlation of the stored (relabelled) reward with
  minus the puck-to-target distance; 1 means the reward orders frames as the distance does.
* ``diag/success_share``: share of those frames with the puck inside the 5 cm disc.
* ``diag/reward_in_success`` and ``diag/reward_outside``: mean reward of each group.

The distance is computed from the state observation (pusher xy, puck xy), which the policy
reads anyway; nothing here feeds back into learning. SB3 itself logs ``train/ent_coef``,
``train/actor_loss`` and ``train/critic_loss``; the query callback logs ``queries/precision``.

``python -m benchmarks.learning_diagnostics RUN_DIR ...`` prints them as a table.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from stable_baselines3.common.callbacks import BaseCallback

from envs.push import SUCCESS_RADIUS, TARGET
from reward_learning.frames import frame_buffer
from reward_learning.run.metrics import read_metrics


class PushRewardDiagnostics(BaseCallback):
    """Logs how well the stored rewards of recent Push frames follow the true distance."""

    def __init__(self, every: int = 1000, window: int = 1000) -> None:
        super().__init__()
        self.every = every
        self.window = window

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.num_timesteps % self.every:
            return
        buffer = frame_buffer(self.model)
        stop = buffer.size()
        start = max(0, stop - self.window)
        rewards = buffer.rewards[start:stop, 0]
        states = buffer.next_observations
        states = states["state"] if isinstance(states, dict) else states
        puck = states[start:stop, 0, 2:4]
        distance = np.linalg.norm(puck - TARGET, axis=1)
        inside = distance < SUCCESS_RADIUS
        if np.ptp(rewards) > 0:
            corr = float(spearmanr(rewards, -distance).statistic)
            self.logger.record("diag/reward_distance_corr", corr)
        self.logger.record("diag/success_share", float(inside.mean()))
        self.logger.record("diag/mean_distance", float(distance.mean()))
        if inside.any():
            self.logger.record("diag/reward_in_success", float(rewards[inside].mean()))
        self.logger.record("diag/reward_outside", float(rewards[~inside].mean()))


SUMMARY_STEPS = (2_000, 5_000, 8_000, 10_000)


def summarize(run_dir: Path) -> dict[str, str]:
    """One run's diagnostics at :data:`SUMMARY_STEPS` from its ``logs/progress.csv``."""
    with open(run_dir / "logs" / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    latest: dict[str, float] = {}
    at: dict[int, dict[str, float]] = {}
    first_positive = None
    for row in rows:
        latest.update({k: float(v) for k, v in row.items() if v not in ("", None)})
        step = int(latest["time/total_timesteps"])
        if first_positive is None and latest.get("queries/precision", 0) > 0:
            first_positive = step
        for mark in SUMMARY_STEPS:
            if step <= mark:
                at[mark] = dict(latest)
    metrics = read_metrics(run_dir / "metrics.csv")

    def series(key: str, fmt: str) -> str:
        return " / ".join(
            format(at[m].get(key, np.nan), fmt) if m in at else "-" for m in SUMMARY_STEPS
        )

    return {
        "run": run_dir.name,
        "success at 5k / 10k": " / ".join(
            f"{r['success_rate']:.0%}" for r in metrics if r["step"] in (5000, 10000)
        ),
        "first positive answer": f"{first_positive:,}" if first_positive else "none",
        "reward-distance corr": series("diag/reward_distance_corr", ".2f"),
        "puck in disc (share of frames)": series("diag/success_share", ".2f"),
        "entropy coefficient": series("train/ent_coef", ".3f"),
        "critic loss": series("train/critic_loss", ".2f"),
        "query precision": series("queries/precision", ".2f"),
    }


def main() -> None:
    """Print a Markdown table of the diagnostics of the run directories named."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories of Push runs")
    args = parser.parse_args()
    rows = [summarize(run) for run in args.runs]
    marks = " / ".join(f"{m / 1000:g}k" for m in SUMMARY_STEPS)
    print(f"Values at {marks} env steps (the last logged before each).\n")
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(row.values()) + " |")


if __name__ == "__main__":
    main()
