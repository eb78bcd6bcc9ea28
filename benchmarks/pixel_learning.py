"""Learning runs seed by seed: success, labels, env steps per second and peak memory.

Push or Drape from pixels by default; any task (a Gymnasium id with ``--env-kwargs`` and a
``--name`` for its results) and any policy input.

Usage: python -m benchmarks.pixel_learning [--task push] [--inputs pixels+proprio pixels] [--modes vice-raq]
       [--seeds 0 1 2 3 4] [--steps 30000] [--device cpu] [--threads 1] [--parallel 2]
       [--label-budget N] [--deadline-min 0] [--out runs/bench/pixels] [--write]
       [--env-kwargs JSON --name NAME] [--resume] [--set KEY=VALUE ...]
Each input x mode x seed is a `reward-learning train TASK --policy-input INPUT` run at the
task's and the input's defaults (settings.INPUT_SETTINGS; ``--label-budget`` overrides the labels a run may
ask for, ``--set`` any other setting as the sweep's ``--set`` names it, one value each), in its own process (no Ray: the GPU machine has
none), ``--parallel`` at a time. A run's process writes ``bench.json`` beside its run: env steps
per second over the whole run (classifier, queries and evaluations included) and its peak
resident memory. ``--deadline-min`` stops the runs that are still going after that many minutes
(their evaluations so far are kept and marked). ``--resume`` continues the runs already in
``--out`` from their latest checkpoints up to ``--steps`` (their env steps per second then
cover the steps run this time). ``--write`` puts a table per input and mode in
benchmarks/README.md (section ``pixels-DEVICE-INPUT-MODE``, ``drape-pixels-...`` for Drape,
``NAME-DEVICE-...`` for another task) and merges the rows into benchmarks/results/pixels_DEVICE.csv
(``drape_pixels_DEVICE.csv``, ``NAME_DEVICE.csv``).
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
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.report import machine, update_section
from reward_learning.run.aggregate import iqm_interval
from reward_learning.run.metrics import read_metrics

if TYPE_CHECKING:
    from reward_learning.run.settings import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results"


def own_settings(
    args: argparse.Namespace, policy_input: str, mode: str, seed: int, out: str
) -> dict[str, Any]:
    """The ``TrainConfig`` fields this benchmark sets for one run from its own flags."""
    return {
        "policy_input": policy_input, "reward": mode, "seed": seed, "steps": args.steps,
        "out": out, "device": args.device, "threads": args.threads, "progress": False,
        "video": False, "env_kwargs": args.env_kwargs,
        **({"label_budget": args.label_budget} if args.label_budget is not None else {}),
    }  # fmt: skip


def run_config(
    args: argparse.Namespace, policy_input: str, mode: str, seed: int, out: str
) -> TrainConfig:
    """The ``TrainConfig`` of one run of this benchmark (the child's, and the parent's check)."""
    from reward_learning.run import settings
    from reward_learning.run.sweep import parse_settings

    return settings.task_config(
        args.task, **own_settings(args, policy_input, mode, seed, out),
        **{key: values[0] for key, values in parse_settings(args.set).items()},
    )  # fmt: skip


def one(args: argparse.Namespace) -> None:
    """Train one run (a child process) and write its ``bench.json``."""
    import torch

    from reward_learning.run import settings, training

    resume = args.resume and (Path(args.out) / "config.json").exists()
    if resume:
        config = settings.load_run_config(args.out)
        config.steps, config.device, config.threads = args.steps, args.device, args.threads
    else:
        config = run_config(args, args.inputs[0], args.modes[0], args.seeds[0], args.out)
    torch.set_num_threads(args.threads)
    run = training.TrainingRun(config, resume=resume, overwrite=not resume)
    first_step = run.model.num_timesteps
    started = time.perf_counter()
    summary = run.train()
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (Path(args.out) / "bench.json").write_text(
        json.dumps({
            **summary, "steps_per_s": (summary["steps"] - first_step) / seconds,
            "peak_mb": peak_mb, "from_step": first_step,
        })
    )  # fmt: skip


def check_runs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a run the children would refuse, before any run starts.

    So is a ``--set`` of a field this benchmark sets from its own flags, or with several values,
    of which a child would take the first silently.
    """
    from reward_learning.errors import UserInputError
    from reward_learning.run import settings
    from reward_learning.run.sweep import parse_settings

    try:
        values = parse_settings(args.set)
        several = [key for key, choices in values.items() if len(choices) > 1]
        if several:
            parser.error(f"--set {several[0]}: one value here (a sweep compares several)")
        for policy_input, mode, seed in itertools.product(args.inputs, args.modes, args.seeds):
            out = str(Path(args.out) / f"{policy_input}_{mode}_s{seed}")
            for key in values.keys() & own_settings(args, policy_input, mode, seed, out).keys():
                parser.error(f"--set {key}: this benchmark sets it from its own flags (--help)")
            settings.validate(run_config(args, policy_input, mode, seed, out))
    except UserInputError as error:
        parser.error(str(error))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="push", help="push, drape or a Gymnasium id")
    parser.add_argument("--env-kwargs", default="", help="the env's keyword arguments (JSON)")
    parser.add_argument("--name", default="", help="the results' name for a Gymnasium id")
    parser.add_argument("--inputs", nargs="+", default=["pixels+proprio"])
    parser.add_argument("--modes", nargs="+", default=["vice-raq"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--label-budget", type=int)
    parser.add_argument("--deadline-min", type=float, default=0.0)
    parser.add_argument("--out", default="runs/bench/pixels")
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--resume", action="store_true", help="continue runs already in --out up to --steps"
    )
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE",
        help="other settings of `reward-learning train`, e.g. query_strategy=entropy",
    )  # fmt: skip
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    check_runs(parser, args)
    runs = list(itertools.product(args.inputs, args.modes, args.seeds))
    started = time.perf_counter()
    waiting, going = list(runs), {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    while waiting or going:
        while waiting and len(going) < args.parallel:
            policy_input, mode, seed = waiting.pop(0)
            out = Path(args.out) / f"{policy_input}_{mode}_s{seed}"
            command = [
                sys.executable, "-m", "benchmarks.pixel_learning", "--one", "--task", args.task, "--inputs",
                policy_input, "--modes", mode, "--seeds", str(seed), "--steps", str(args.steps),
                "--device", args.device, "--threads", str(args.threads), "--out", str(out),
                "--env-kwargs", args.env_kwargs, *(["--resume"] if args.resume else []),
                *(["--label-budget", str(args.label_budget)] if args.label_budget is not None else []),
                *(["--set", *args.set] if args.set else []),
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
    """A table per input and mode to stdout and, with ``--write``, to the README and the CSV.

    ``--write`` merges: the CSV keeps the rows of other inputs, modes and seeds (this
    invocation's seeds replace their own), and each input x mode has its own README section,
    so that one measurement never erases another.
    """
    sections = []
    rows = []
    for policy_input, mode in dict.fromkeys((i, m) for i, m, _ in runs):
        seeds = [s for i, m, s in runs if (i, m) == (policy_input, mode)]
        curves, stats = {}, {}
        for seed in seeds:
            out = Path(args.out) / f"{policy_input}_{mode}_s{seed}"
            if (out / "metrics.csv").exists():
                curves[seed] = read_metrics(out / "metrics.csv")
                rows += [
                    {"input": policy_input, "mode": mode, "seed": seed, **r} for r in curves[seed]
                ]
            if (out / "bench.json").exists():
                stats[seed] = json.loads((out / "bench.json").read_text())
        if curves:
            sections.append(
                (policy_input, mode, table(args, policy_input, mode, curves, stats, minutes))
            )
    for _, _, text in sections:
        print(text, "", sep="\n")
    if not args.write:
        return
    RESULTS.mkdir(exist_ok=True)
    prefix = {"push": "pixels", "drape": "drape_pixels"}.get(args.task, args.name or "task")
    path = RESULTS / f"{prefix}_{args.device}.csv"
    ours = {(i, m, str(s)) for i, m, s in runs}
    kept = []
    if path.exists():
        with open(path, newline="") as f:
            kept = [r for r in csv.DictReader(f) if (r["input"], r["mode"], r["seed"]) not in ours]
    merged = kept + rows
    if merged:
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(merged[0]))
            writer.writeheader()
            writer.writerows(merged)
    for policy_input, mode, text in sections:
        family = f"{prefix.replace('_', '-')}-{args.device}"
        update_section(f"{family}-{policy_input}-{mode}", text, near=family)


def table(
    args: argparse.Namespace,
    policy_input: str,
    mode: str,
    curves: dict[int, list[dict[str, float]]],
    stats: dict[int, dict[str, float]],
    minutes: float,
) -> str:
    """Success at every evaluation, seed by seed, then the spread at each seed's last one."""
    steps = sorted({int(r["step"]) for curve in curves.values() for r in curve})
    lines = []
    for seed, curve in curves.items():
        at = {int(r["step"]): r["success_rate"] for r in curve}
        cells = [f"{at[s]:.0%}" if s in at else "" for s in steps]
        rate = (
            f"{stats[seed]['steps_per_s']:.1f} | {stats[seed]['peak_mb']:,.0f}"
            if seed in stats
            else "stopped | "
        )
        lines.append(f"| {seed} | {' | '.join(cells)} | {curve[-1]['labels']:.0f} | {rate} |")
    last = np.array([curve[-1]["success_rate"] for curve in curves.values()])
    ends = sorted({int(curve[-1]["step"]) for curve in curves.values()})
    middle, low, high = iqm_interval(last)
    return "\n".join([
        f"#### {args.name or args.task.capitalize()}, {policy_input}, {mode}",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}"
        + (" + CUDA" if args.device == "cuda" else "")
        + f": `python -m benchmarks.pixel_learning {' '.join(sys.argv[1:])}` ({minutes:.0f} min, "
        f"{args.parallel} runs at a time, {args.threads} torch thread(s) each). Success over the "
        "evaluation episodes at each evaluation:",
        "",
        "| seed | " + " | ".join(f"{s / 1000:g}k" for s in steps) + " | labels | env steps/s | peak MB |",
        "|---" * (len(steps) + 4) + "|",
        *lines,
        "",
        f"At each seed's last evaluation ({', '.join(f'{e / 1000:g}k' for e in ends)}): mean "
        f"{last.mean():.0%}, lowest {last.min():.0%}, IQM {middle:.0%} [{low:.0%}, {high:.0%}].",
    ])  # fmt: skip


if __name__ == "__main__":
    main()
