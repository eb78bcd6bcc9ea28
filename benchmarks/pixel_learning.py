"""Push from pixels: success, labels, env steps per second and peak memory, every seed.

Usage: python -m benchmarks.pixel_learning [--inputs pixels+proprio pixels] [--modes vice-raq]
       [--seeds 0 1 2 3 4] [--steps 30000] [--device cpu] [--threads 1] [--parallel 2]
       [--deadline-min 0] [--out runs/bench/pixels] [--write]
Each input x mode x seed is a `reward-learning train push --policy-input INPUT` run at the
input's defaults (run_config.INPUT_SETTINGS), in its own process (no Ray: the GPU machine has
none), ``--parallel`` at a time. A run's process writes ``bench.json`` beside its run: env steps
per second over the whole run (classifier, queries and evaluations included) and its peak
resident memory. ``--deadline-min`` stops the runs that are still going after that many minutes
(their evaluations so far are kept and marked). ``--write`` puts the table in
benchmarks/README.md (section ``pixels-DEVICE``) and the rows in
benchmarks/results/pixels_DEVICE.csv.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.report import machine, update_section
from reward_learning.aggregate import iqm_interval
from reward_learning.metrics import read_metrics

RESULTS = Path(__file__).resolve().parent / "results"


def one(args: argparse.Namespace) -> None:
    """Train one run (a child process) and write its ``bench.json``."""
    import torch

    from reward_learning import agent, run_config

    config = run_config.task_config(
        "push", policy_input=args.inputs[0], reward=args.modes[0], seed=args.seeds[0],
        steps=args.steps, out=args.out, device=args.device, threads=args.threads,
        progress=False, video=False,
    )  # fmt: skip
    torch.set_num_threads(args.threads)
    run = agent.TrainingRun(config, overwrite=True)
    started = time.perf_counter()
    summary = run.train()
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (Path(args.out) / "bench.json").write_text(
        json.dumps({**summary, "steps_per_s": summary["steps"] / seconds, "peak_mb": peak_mb})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", nargs="+", default=["pixels+proprio"])
    parser.add_argument("--modes", nargs="+", default=["vice-raq"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--deadline-min", type=float, default=0.0)
    parser.add_argument("--out", default="runs/bench/pixels")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    runs = list(itertools.product(args.inputs, args.modes, args.seeds))
    started = time.perf_counter()
    waiting, going = list(runs), {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    while waiting or going:
        while waiting and len(going) < args.parallel:
            policy_input, mode, seed = waiting.pop(0)
            out = Path(args.out) / f"{policy_input}_{mode}_s{seed}"
            command = [
                sys.executable, "-m", "benchmarks.pixel_learning", "--one", "--inputs",
                policy_input, "--modes", mode, "--seeds", str(seed), "--steps", str(args.steps),
                "--device", args.device, "--threads", str(args.threads), "--out", str(out),
            ]  # fmt: skip
            out.parent.mkdir(parents=True, exist_ok=True)
            log = open(f"{out}.log", "w")  # noqa: SIM115 - closed with the process
            going[(policy_input, mode, seed)] = (
                subprocess.Popen(command, stdout=log, stderr=log, env=env),
                log,
            )
        time.sleep(5)
        late = args.deadline_min and time.perf_counter() - started > 60 * args.deadline_min
        for key, (process, log) in list(going.items()):
            if late and process.poll() is None:
                process.kill()
            if process.poll() is not None:
                log.close()
                del going[key]
                print(f"{key}: exit {process.returncode}", flush=True)
    write(args, runs, (time.perf_counter() - started) / 60)


def write(args: argparse.Namespace, runs: list[tuple[str, str, int]], minutes: float) -> None:
    """Every run's curve to a CSV, a table per input and mode to stdout (and the README)."""
    rows, lines = [], []
    for policy_input, mode in dict.fromkeys((i, m) for i, m, _ in runs):
        last, labels, rates, peaks, ends = [], [], [], [], []
        for seed in (s for i, m, s in runs if (i, m) == (policy_input, mode)):
            out = Path(args.out) / f"{policy_input}_{mode}_s{seed}"
            curve = read_metrics(out / "metrics.csv") if (out / "metrics.csv").exists() else []
            rows += [{"input": policy_input, "mode": mode, "seed": seed, **r} for r in curve]
            bench = out / "bench.json"
            stats = json.loads(bench.read_text()) if bench.exists() else None
            if curve:
                last.append(curve[-1]["success_rate"])
                labels.append(curve[-1]["labels"])
                ends.append(int(curve[-1]["step"]))
            if stats:
                rates.append(stats["steps_per_s"])
                peaks.append(stats["peak_mb"])
        if not last:
            continue
        mean, (low, high) = float(np.mean(last)), iqm_interval(np.array(last))[1:]
        lines.append(
            f"| {policy_input} | {mode} | {len(last)} | "
            + ", ".join(f"{s:.0%} at {e / 1000:g}k" for s, e in zip(last, ends, strict=True))
            + f" | {mean:.0%} | {iqm_interval(np.array(last))[0]:.0%} [{low:.0%}, {high:.0%}] | "
            f"{np.mean(labels):.0f} | "
            + (f"{np.mean(rates):.1f} | {max(peaks):.0f} |" if rates else "stopped early | |")
        )
    table = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}"
        + (" + CUDA" if args.device == "cuda" else "")
        + f": `python -m benchmarks.pixel_learning {' '.join(sys.argv[1:])}` ({minutes:.0f} min, "
        f"{args.parallel} runs at a time, {args.threads} torch thread(s) each).",
        "",
        "| input | reward | seeds | each seed: success at its last evaluation | mean | IQM [95% CI] "
        "| labels | env steps/s (whole run) | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
        *lines,
    ]
    print("\n".join(table))
    if args.write:
        RESULTS.mkdir(exist_ok=True)
        with open(RESULTS / f"pixels_{args.device}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["input"])
            writer.writeheader()
            writer.writerows(rows)
        update_section(f"pixels-{args.device}", "\n".join(table))


if __name__ == "__main__":
    main()
