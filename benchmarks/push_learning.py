"""Push: ground-truth success rate vs env steps and labels for every reward mode.

Usage: python -m benchmarks.push_learning [--modes vice-raq classifier ...] [--seeds 0 1 2]
       [--steps 20000] [--extra goals=10 ...] [--address auto] [--parallel 1]
Every mode x seed is a trial of `reward-learning sweep` on Ray Tune (one per free core, or a
cluster with --address); run directories go to runs/bench/TASK/runs/ (they hold replay buffers:
not committed) and continue from their checkpoints when the same command is started again with
more --steps. The table goes into benchmarks/README.md, the curves to
benchmarks/results/TASK_learning.{csv,png}. ``benchmarks.drape_learning`` runs the same for Drape.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.report import machine, update_section
from reward_learning.errors import UserInputError
from reward_learning.reward import REWARD_MODES
from reward_learning.run.sweep import (
    SweepConfig,
    Trial,
    TrialOutcome,
    check,
    parse_value,
    plot_curves,
    results_table,
    run_sweep,
)

RESULTS = Path(__file__).resolve().parent / "results"


CHECKPOINTS = {"push": (5_000, 10_000, 20_000), "drape": (10_000, 25_000, 50_000)}
"""Env steps at which the table reports the mean success (the targets' step counts)."""

SUCCESS = {
    "push": "puck within 5 cm of the target",
    "drape": "cloth over the box top and hanging down both sides (envs/drape.py)",
}
DIAGNOSTICS = {"push": ["benchmarks.learning_diagnostics:PushRewardDiagnostics"]}
COLUMNS = ["variant", "seed", "step", "success_rate", "labels", "wall_s", "reward_s"]


def main(task: str = "push", default_steps: int = 20_000, doc: str | None = __doc__) -> None:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--modes", nargs="+", default=list(REWARD_MODES.names()))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=default_steps)
    parser.add_argument(
        "--extra", nargs="*", default=[], help="TrainConfig settings of the variant, key=value"
    )
    parser.add_argument("--address", default=None, help="a Ray cluster (default: local Ray)")
    parser.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="trials at a time on this machine (default: one per core)",
    )
    args = parser.parse_args()
    try:
        extra = {k: parse_value(k, v) for k, v in (p.split("=", 1) for p in args.extra)}
        cores = os.cpu_count() or 1
        config = SweepConfig(
            task=task, steps=args.steps, out=f"runs/bench/{task}", address=args.address,
            callbacks=DIAGNOSTICS.get(task, []),
            cpus_per_trial=cores / args.parallel if args.parallel else 1.0,
        )  # fmt: skip
        # Every --extra names the variant (vice-raq (goals=10)), as the table's rows do.
        trials = [Trial(mode, extra, seed) for mode in args.modes for seed in args.seeds]
        check(config, trials)
    except UserInputError as error:
        raise SystemExit(f"error: {error}") from error
    started = time.perf_counter()
    outcomes = run_sweep(config, trials)
    minutes = (time.perf_counter() - started) / 60
    for failed in (o for o in outcomes if o.error):
        print(f"failed: {failed.trial.variant}, seed {failed.trial.seed}: {failed.error}")
    RESULTS.mkdir(exist_ok=True)
    # Benchmarks started side by side share the table and the README.
    with open(RESULTS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record(task, RESULTS / f"{task}_learning.csv", outcomes, minutes)


def record(task: str, table: Path, outcomes: list[TrialOutcome], minutes: float) -> None:
    """Merge the trials into the results table (a rerun replaces its variant and seed), report."""
    previous = []
    if table.exists():
        with open(table, newline="") as f:
            previous = list(csv.DictReader(f))
    done = {(o.trial.variant, o.trial.seed) for o in outcomes if o.rows}
    rows = [r for r in previous if (r["variant"], int(r["seed"])) not in done]
    for o in outcomes:
        rows += [
            {"variant": o.trial.variant, "seed": o.trial.seed, **{k: r[k] for k in COLUMNS[2:]}}
            for r in o.rows
        ]
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    report(
        task,
        rows,
        f"`python -m benchmarks.{task}_learning {' '.join(sys.argv[1:])}` ({minutes:.0f} min)",
    )


def report(task: str, rows: list[dict[str, Any]], command: str) -> None:
    """Table (README) and figure from every run recorded so far."""
    lines = [
        f"Last measured {time.strftime('%Y-%m-%d')} on {machine()}: {command}.",
        f"Success = {SUCCESS[task]} at the end of an episode, over 50 evaluation episodes "
        "(ground truth, which the learner never sees). Each row: every seed's success at the "
        "run's last step, their mean, and the interquartile mean with a 95% bootstrap interval "
        "(rliable's method: reward_learning/run/aggregate.py). Wall time is per run, runs side by "
        "side with one torch thread each.",
        "",
        *results_table(rows, CHECKPOINTS[task]),
        "",
        f"![success vs steps](results/{task}_learning.png)",
    ]
    plot_curves(
        rows, RESULTS / f"{task}_learning.png", "ground-truth success rate (mean over seeds)"
    )
    update_section(task, "\n".join(lines))


if __name__ == "__main__":
    main()
