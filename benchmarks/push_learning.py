"""Push: ground-truth success rate vs env steps and labels for every reward mode.

Usage: python -m benchmarks.push_learning [--modes vice-raq classifier ...] [--seeds 0 1 2]
       [--steps 20000] [--parallel 2] [--extra policy_negatives=exploration ...]
Run directories go to runs/bench/ (they hold replay buffers: not committed); the table goes
into benchmarks/README.md, the curves to benchmarks/results/push_learning.{csv,png}.
``benchmarks.drape_learning`` runs the same for Drape.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import sys
import time
import typing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.aggregate import iqm_interval
from benchmarks.learning_diagnostics import PushRewardDiagnostics
from benchmarks.report import machine, update_section
from reward_learning.agent import TrainingRun
from reward_learning.metrics import read_metrics
from reward_learning.run_config import REWARD_MODES, TrainConfig, load_run_config, task_config

RESULTS = Path(__file__).resolve().parent / "results"


CHECKPOINTS = {"push": (5_000, 10_000, 20_000), "drape": (10_000, 25_000, 50_000)}
"""Env steps at which the table reports the mean success (the targets' step counts)."""

SUCCESS = {
    "push": "puck within 5 cm of the target",
    "drape": "cloth over the box top and hanging down both sides (envs/drape.py)",
}


def run_one(
    task: str,
    mode: str,
    seed: int,
    steps: int,
    threads: int,
    extra: dict[str, Any],
    resume: bool = False,
) -> dict[str, Any]:
    tag = "_".join(f"{k}{v}" for k, v in extra.items())
    out = Path("runs/bench") / task / f"{mode}{'_' + tag if tag else ''}_s{seed}"
    if resume and (out / "config.json").exists():
        config = load_run_config(out)
        config.steps = steps
        run = TrainingRun(config, resume=True)
    else:
        config = task_config(
            task, reward=mode, steps=steps, seed=seed, out=str(out), progress=False,
            video=False, threads=threads, **extra,
        )  # fmt: skip
        run = TrainingRun(config, overwrite=True)  # a rerun replaces the variant's rows too
    diagnostics = (PushRewardDiagnostics(),) if task == "push" and mode != "sparse" else ()
    summary = run.train(extra_callbacks=diagnostics)
    summary["seed"] = seed
    summary["curve"] = read_metrics(out / "metrics.csv")
    summary["variant"] = mode + (
        f" ({', '.join(f'{k}={v}' for k, v in extra.items())})" if extra else ""
    )
    return summary


def parse_extra(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs to ``TrainConfig`` values of the field's type (``x=false`` is False)."""
    hints = typing.get_type_hints(TrainConfig)
    values: dict[str, Any] = {}
    for key, text in (p.split("=", 1) for p in pairs):
        if key not in hints:
            raise SystemExit(f"--extra {key}: not a TrainConfig field")
        kind = hints[key]
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise SystemExit(f"--extra {key}={text}: expected true or false")
            values[key] = text.lower() == "true"
        else:
            values[key] = kind(text) if kind in (int, float, str) else text
    return values


def main(task: str = "push", default_steps: int = 20_000, doc: str | None = __doc__) -> None:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--modes", nargs="+", default=list(REWARD_MODES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=default_steps)
    parser.add_argument("--parallel", type=int, default=1, help="runs at once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--extra", nargs="*", default=[], help="TrainConfig overrides, key=value")
    parser.add_argument(
        "--resume", action="store_true", help="continue runs that exist to --steps (10k -> 20k)"
    )
    args = parser.parse_args()
    extra = parse_extra(args.extra)
    jobs = [(m, s) for m in args.modes for s in args.seeds]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.parallel) as pool:
        futures = [
            pool.submit(run_one, task, m, s, args.steps, args.threads, extra, args.resume)
            for m, s in jobs
        ]
        summaries = [f.result() for f in futures]
    minutes = (time.perf_counter() - started) / 60
    RESULTS.mkdir(exist_ok=True)
    table = RESULTS / f"{task}_learning.csv"
    # Benchmark lanes started side by side share the table and the README.
    with open(RESULTS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record(task, table, summaries, minutes)
    print(json.dumps([{k: v for k, v in s.items() if k != "curve"} for s in summaries], indent=1))


def record(task: str, table: Path, summaries: list[dict[str, Any]], minutes: float) -> None:
    """Merge the runs into the results table (a rerun replaces its variant and seed), report."""
    previous = []
    if table.exists():
        with open(table, newline="") as f:
            previous = list(csv.DictReader(f))
    rows = [
        r
        for r in previous
        if not any(r["variant"] == s["variant"] and int(r["seed"]) == s["seed"] for s in summaries)
    ]
    for s in summaries:
        for point in s["curve"]:
            rows.append(
                {
                    "variant": s["variant"],
                    "seed": s["seed"],
                    **{
                        k: point[k]
                        for k in ("step", "success_rate", "labels", "wall_s", "reward_s")
                    },
                }
            )
    with open(table, "w", newline="") as f:
        writer = csv.DictWriter(
            f,
            fieldnames=["variant", "seed", "step", "success_rate", "labels", "wall_s", "reward_s"],
        )
        writer.writeheader()
        writer.writerows(rows)
    report(
        task,
        rows,
        f"`python -m benchmarks.{task}_learning {' '.join(sys.argv[1:])}` ({minutes:.0f} min)",
    )


def success_at(curve: list[dict[str, Any]], step: float) -> float:
    """Success rate of one seed's curve at ``step``; NaN where it was not evaluated."""
    return next((float(r["success_rate"]) for r in curve if float(r["step"]) == step), np.nan)


def report(task: str, rows: list[dict[str, Any]], command: str) -> None:
    """Table (README) and figure from every run recorded so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # The defaults (plain mode names) first, then variants by how many settings they change,
    # each group in the order run.
    variants = sorted(dict.fromkeys(r["variant"] for r in rows), key=lambda v: v.count("="))
    marks = CHECKPOINTS[task]
    lines = [
        f"Last measured {time.strftime('%Y-%m-%d')} on {machine()}: {command}.",
        f"Success = {SUCCESS[task]} at the end of an episode, over 50 evaluation episodes "
        "(ground truth, which the learner never sees). Each row: every seed's success at the "
        "run's last step, their mean, and the interquartile mean with a 95% bootstrap interval "
        "(rliable's method: benchmarks/aggregate.py). Wall time is per run, runs side by side "
        "with one torch thread each.",
        "",
        "| variant | seeds | "
        + " | ".join(f"mean at {m / 1000:g}k" for m in marks)
        + " | last step: each seed | mean | IQM [95% CI] | labels | wall min | reward machinery |",
        "|---|---|" + "---|" * len(marks) + "---|---|---|---|---|---|",
    ]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        seeds = sorted({int(r["seed"]) for r in mine})
        curves = [
            sorted((r for r in mine if int(r["seed"]) == s), key=lambda r: float(r["step"]))
            for s in seeds
        ]
        # Every seed at the same step: the last one all of them reached.
        common = min(float(c[-1]["step"]) for c in curves)
        last = [next(r for r in c if float(r["step"]) == common) for c in curves]
        finals = np.array([float(r["success_rate"]) for r in last])
        middle, low, high = iqm_interval(finals)
        at_marks = []
        for mark in marks:
            values = np.array([success_at(c, mark) for c in curves])
            reached = int((~np.isnan(values)).sum())
            at_marks.append(
                "-" if reached == 0
                else f"{np.nanmean(values):.0%}" + (f" ({reached} of {len(seeds)} seeds)" if reached < len(seeds) else "")
            )  # fmt: skip
        steps = [common]
        lines.append(
            f"| {variant} | {len(seeds)} | {' | '.join(at_marks)} | "
            f"{', '.join(f'{x:.0%}' for x in finals)} (at {'/'.join(f'{s / 1000:g}k' for s in steps)}) | "
            f"{finals.mean():.0%} | {middle:.0%} [{low:.0%}, {high:.0%}] | "
            f"{np.mean([float(r['labels']) for r in last]):.0f} | "
            f"{np.mean([float(r['wall_s']) for r in last]) / 60:.1f} | "
            f"{np.mean([float(r['reward_s']) / float(r['wall_s']) for r in last]):.0%} |"
        )
        grid = sorted({float(r["step"]) for r in mine})
        mean_curve = [np.nanmean([success_at(c, step) for c in curves]) for step in grid]
        ax.plot(grid, mean_curve, "o-", label=f"{variant} ({len(seeds)} seeds)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("ground-truth success rate (mean over seeds)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{task}_learning.png", dpi=110)
    lines += ["", f"![success vs steps](results/{task}_learning.png)"]
    update_section(task, "\n".join(lines))


if __name__ == "__main__":
    main()
