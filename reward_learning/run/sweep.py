"""Many runs at once on Ray Tune: every reward mode x setting x seed is a trial.

``reward-learning sweep push --seeds 0-4 --reward vice-raq vice --set learning_rate=1e-3,3e-4``
runs each combination as a Ray Tune trial (one CPU each; on this machine by default, on a
cluster with ``--address``). Each trial is an ordinary run directory under ``OUT/runs/``, so a
sweep started again continues its unfinished trials; each reports its evaluations to Tune. The
sweep writes ``OUT/sweep.csv`` (every evaluation of every trial), ``OUT/sweep.md`` (per seed,
mean, interquartile mean with a 95% bootstrap interval) and ``OUT/curves.png``.
"""

from __future__ import annotations

import csv
import importlib
import itertools
import os
import socket
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning.config import check_ranges
from reward_learning.errors import UserInputError
from reward_learning.run.aggregate import iqm_interval
from reward_learning.run.figures import figure
from reward_learning.run.metrics import read_metrics
from reward_learning.run.settings import TrainConfig, load_run_config, task_config, validate


@dataclass
class SweepConfig:
    """A sweep (the ``reward-learning sweep`` command)."""

    task: str = "push"
    """The task (push, drape or a Gymnasium env id)."""
    seeds: str = "0-2"
    """Seeds: a range (0-4) or a list (0,3,7)."""
    reward: list[str] = field(default_factory=lambda: ["vice-raq"])
    """Reward modes to compare."""
    set: list[str] = field(default_factory=list)
    """Settings to cross, each KEY=V1,V2 (a TrainConfig field, e.g. learning_rate=1e-3,3e-4)."""
    steps: int | None = None
    """Env steps per trial (default: the task's)."""
    out: str = "runs/sweep"
    """Sweep directory: runs/ (one run directory per trial), sweep.csv, sweep.md, curves.png."""
    address: str | None = None
    """An existing Ray cluster (auto, or ray://HOST:10001); default: a local Ray on this machine."""
    cpus_per_trial: float = 1.0
    """CPUs Ray reserves per trial (each trial trains with one torch thread)."""
    callbacks: list[str] = field(default_factory=list)
    """SB3 callbacks every trial adds, as module:Class (each built with no arguments), e.g.
    benchmarks.learning_diagnostics:PushRewardDiagnostics."""


class Trial(NamedTuple):
    """One run of a sweep: a variant (reward mode and crossed settings) at one seed."""

    reward: str
    crossed: dict[str, Any]
    """The settings that differ between the sweep's variants (``--set`` with two values or more)."""
    seed: int

    @property
    def variant(self) -> str:
        """``vice-raq`` or ``vice-raq (learning_rate=0.001)``."""
        settings = ", ".join(f"{k}={v}" for k, v in self.crossed.items())
        return self.reward + (f" ({settings})" if settings else "")

    @property
    def name(self) -> str:
        """The trial's run directory name: ``vice-raq_learning_rate0.001_s0``."""
        return "_".join(
            [self.reward, *(f"{k}{v}" for k, v in self.crossed.items()), f"s{self.seed}"]
        )


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` or ``"0,3,7"`` as a list of seeds.

    Raises:
        UserInputError: neither form.
    """
    try:
        if "-" in text.strip("-"):
            low, high = (int(x) for x in text.split("-"))
            seeds = list(range(low, high + 1))
        else:
            seeds = [int(x) for x in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds:
        raise UserInputError(f"--seeds {text!r}: expected a range (0-4) or a list (0,3,7)")
    return seeds


SWEEP_SETS: dict[str, str] = {
    "seed": "use --seeds", "reward": "use --reward", "steps": "use --steps",
    "out": "use --out", "task": "name it first", "threads": "one per trial",
    "progress": "off in trials", "video": "off in trials",
}  # fmt: skip
"""The ``TrainConfig`` fields a sweep sets for every trial, which ``--set`` may not."""


def check_address(address: str) -> None:
    """Refuse, within seconds, a Ray address (``HOST:PORT`` or ``ray://HOST:PORT``) nobody answers.

    ``auto`` and other forms are left to Ray.

    Raises:
        UserInputError: nothing accepts a connection there (Ray would retry for minutes).
    """
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise UserInputError(
            f"--address {address}: nothing answers there ({error.strerror or error}): start the "
            "cluster first (`ray start --head`) or check the address"
        ) from error


def parse_value(key: str, text: str) -> Any:
    """``text`` as the type of ``TrainConfig.key`` (``true``/``false`` for flags).

    Raises:
        UserInputError: not a field, or not of its type.
    """
    hints = typing.get_type_hints(TrainConfig)
    if key not in hints:
        raise UserInputError(f"--set {key}: not a setting of `reward-learning train`")
    if key in SWEEP_SETS:
        raise UserInputError(f"--set {key}: the sweep sets it itself ({SWEEP_SETS[key]})")
    kind = hints[key]
    try:
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        return kind(text) if kind in (int, float, str) else text
    except ValueError as error:
        raise UserInputError(f"--set {key}={text}: expected a {kind.__name__}") from error


def parse_settings(items: list[str]) -> dict[str, list[Any]]:
    """``["learning_rate=1e-3,3e-4", ...]`` as ``{"learning_rate": [0.001, 0.0003], ...}``."""
    settings = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise UserInputError(f"--set {item!r}: expected KEY=V1,V2")
        settings[key] = [parse_value(key, v) for v in values.split(",")]
    return settings


def plan(config: SweepConfig) -> list[Trial]:
    """Every trial of the sweep, each checked before anything runs.

    Raises:
        UserInputError: a seed list, setting or resulting run config that is not valid.
    """
    check_ranges(config, {"cpus_per_trial": (0.01, 1024)})
    settings = parse_settings(config.set)
    crossed = {k: v for k, v in settings.items() if len(v) > 1}
    seeds = parse_seeds(config.seeds)
    trials = [
        Trial(reward, dict(zip(crossed, values, strict=True)), seed)
        for reward in config.reward
        for values in itertools.product(*crossed.values())
        for seed in seeds
    ]
    check(config, trials)
    return trials


def check(config: SweepConfig, trials: list[Trial]) -> None:
    """Validate every trial's run config and the callbacks, before anything runs.

    Raises:
        UserInputError: the first that is not valid, in one line.
    """
    for trial in trials:
        validate(trial_config(config, trial, Path(config.out)))
    for path in config.callbacks:
        load_callback(path)


def load_callback(path: str) -> type[BaseCallback]:
    """The SB3 callback class named ``module:Class``.

    Raises:
        UserInputError: it does not import or is not a callback.
    """
    module, _, name = path.partition(":")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise UserInputError(f"--callbacks {path}: {error}") from error
    if not (isinstance(found, type) and issubclass(found, BaseCallback)):
        raise UserInputError(f"--callbacks {path}: not a stable_baselines3 BaseCallback")
    return found


def trial_config(config: SweepConfig, trial: Trial, out: Path) -> TrainConfig:
    """The run config of one trial, its directory under ``out/runs``."""
    shared = {k: v[0] for k, v in parse_settings(config.set).items()}
    if config.steps is not None:
        shared["steps"] = config.steps
    return task_config(
        config.task, **{**shared, **trial.crossed}, reward=trial.reward, seed=trial.seed,
        out=str(out / "runs" / trial.name), progress=False, video=False, threads=1,
    )  # fmt: skip


REPORTED = ("step", "success_rate", "labels", "wall_s", "reward_s")


class TuneReport(BaseCallback):
    """After each evaluation: the new rows of the run's ``metrics.csv``, reported to Ray Tune."""

    def __init__(self, metrics: Path) -> None:
        super().__init__()
        self.metrics = metrics
        self.reported: set[float] = set()

    def report_new(self) -> None:
        """Report every row not reported yet (a continued trial's earlier evaluations too)."""
        from ray import tune

        for row in read_metrics(self.metrics):
            if row["step"] not in self.reported:
                tune.report({k: row[k] for k in REPORTED})
                self.reported.add(row["step"])

    def _on_step(self) -> bool:
        self.report_new()
        return True


def run_trial(params: dict[str, Any]) -> None:
    """A Ray Tune function trainable: train (or continue) one trial's run, reporting to Tune."""
    from reward_learning.run.training import TrainingRun

    config = TrainConfig(**params["config"])
    out = Path(config.out)
    reporter = TuneReport(out / "metrics.csv")
    if (out / "config.json").exists():  # the sweep ran before: continue where it stopped
        saved = load_run_config(out)
        if saved.task != config.task:
            raise UserInputError(f"{out} holds a run of {saved.task}, not of {config.task}")
        saved.steps = config.steps
        run = TrainingRun(saved, resume=True)
        reporter.report_new()
    else:
        run = TrainingRun(config)
    callbacks = tuple(load_callback(path)() for path in params["callbacks"])
    run.train(extra_callbacks=callbacks, after_evaluation=(reporter,))
    reporter.report_new()  # the one evaluation of a run shorter than the evaluation interval


class TrialOutcome(NamedTuple):
    """What a trial reported to Tune, or its error."""

    trial: Trial
    rows: list[dict[str, float]]
    error: str | None


def run_sweep(config: SweepConfig, trials: list[Trial]) -> list[TrialOutcome]:
    """Run the trials on Ray Tune; a trial that fails does not stop the others."""
    import ray
    from ray import tune

    out = Path(config.out).resolve()
    # Ray lowers its workers' priority (nice 15) to keep its own processes responsive; a sweep's
    # trials are the work, and at nice 15 they starve beside any other job on the machine.
    os.environ.setdefault("RAY_worker_niceness", "0")
    configs = [trial_config(config, t, out) for t in trials]
    if config.address:
        ray.init(address=config.address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            tune.with_resources(run_trial, {"cpu": config.cpus_per_trial}),
            param_space={
                "config": tune.grid_search([asdict(c) for c in configs]),
                "callbacks": config.callbacks,
            },
            run_config=tune.RunConfig(
                name="tune", storage_path=str(out), verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )  # fmt: skip
        grid = tuner.fit()
        by_dir = {c.out: t for c, t in zip(configs, trials, strict=True)}
        outcomes = []
        for index in range(len(grid)):
            result = grid[index]
            trial = by_dir[(result.config or {})["config"]["out"]]
            frame = result.metrics_dataframe
            records: list[dict[str, float]] = []
            if frame is not None and "step" in frame:
                records = frame[list(REPORTED)].dropna().to_dict("records")
            error = None if result.error is None else str(result.error).strip().splitlines()[-1]
            outcomes.append(TrialOutcome(trial, records, error))
    finally:
        ray.shutdown()
    order = {t.name: i for i, t in enumerate(trials)}
    return sorted(outcomes, key=lambda o: order[o.trial.name])


def success_at(curve: list[dict[str, Any]], step: float) -> float:
    """Success rate of one seed's curve at ``step``; NaN where it was not evaluated."""
    return next((float(r["success_rate"]) for r in curve if float(r["step"]) == step), np.nan)


def results_table(rows: list[dict[str, Any]], marks: tuple[int, ...] = ()) -> list[str]:
    """A markdown table of evaluation rows, one line per variant.

    Rows hold ``variant, seed, step, success_rate, labels, wall_s, reward_s``. A line gives the
    mean at each of ``marks`` env steps, every seed's success at the last step all seeds
    reached, their mean and IQM [95% bootstrap CI], labels, wall minutes per run and the reward
    machinery's share of it.
    """
    header = "| variant | seeds | " + "".join(f"mean at {m / 1000:g}k | " for m in marks)
    lines = [
        header
        + "last step: each seed | mean | IQM [95% CI] | labels | wall min | reward machinery |",
        "|---|---|" + "---|" * len(marks) + "---|---|---|---|---|---|",
    ]
    for variant, curves in _curves(rows).items():
        common = min(float(c[-1]["step"]) for c in curves.values())
        last = [next(r for r in c if float(r["step"]) == common) for c in curves.values()]
        finals = np.array([float(r["success_rate"]) for r in last])
        middle, low, high = iqm_interval(finals)
        at_marks = ""
        for mark in marks:
            values = np.array([success_at(c, mark) for c in curves.values()])
            reached = int((~np.isnan(values)).sum())
            partial = f" ({reached} of {len(curves)} seeds)" if 0 < reached < len(curves) else ""
            at_marks += ("-" if reached == 0 else f"{np.nanmean(values):.0%}{partial}") + " | "
        lines.append(
            f"| {variant} | {len(curves)} | {at_marks}"
            f"{', '.join(f'{x:.0%}' for x in finals)} (at {common / 1000:g}k) | "
            f"{finals.mean():.0%} | {middle:.0%} [{low:.0%}, {high:.0%}] | "
            f"{np.mean([float(r['labels']) for r in last]):.0f} | "
            f"{np.mean([float(r['wall_s']) for r in last]) / 60:.1f} | "
            f"{np.mean([float(r['reward_s']) / max(float(r['wall_s']), 1e-9) for r in last]):.0%} |"
        )
    return lines


def _curves(rows: list[dict[str, Any]]) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """``{variant: {seed: rows by step}}``.

    The defaults (plain mode names) first, then variants by how many settings they change, each
    group in the order given.
    """
    variants = sorted(dict.fromkeys(r["variant"] for r in rows), key=lambda v: v.count("="))
    return {
        v: {
            seed: sorted(
                (r for r in rows if r["variant"] == v and int(r["seed"]) == seed),
                key=lambda r: float(r["step"]),
            )
            for seed in sorted({int(r["seed"]) for r in rows if r["variant"] == v})
        }
        for v in variants
    }


def plot_curves(rows: list[dict[str, Any]], path: Path, ylabel: str = "success rate") -> Path:
    """Mean success vs env steps per variant (thin lines: each seed) as a PNG."""
    with figure(path, figsize=(8, 4.5)) as (fig, ax):
        for index, (variant, curves) in enumerate(_curves(rows).items()):
            color = f"C{index % 10}"
            for curve in curves.values():
                ax.plot(
                    [float(r["step"]) for r in curve], [float(r["success_rate"]) for r in curve],
                    color=color, alpha=0.25, linewidth=0.8,
                )  # fmt: skip
            grid = sorted({float(r["step"]) for c in curves.values() for r in c})
            mean = [np.nanmean([success_at(c, step) for c in curves.values()]) for step in grid]
            ax.plot(grid, mean, "o-", color=color, label=f"{variant} ({len(curves)} seeds)")
        ax.set_xlabel("env steps")
        ax.set_ylabel(ylabel)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return path


def write_results(outcomes: list[TrialOutcome], out: Path) -> list[str]:
    """``sweep.csv``, ``sweep.md`` and ``curves.png`` in ``out``; returns the markdown lines."""
    rows = [
        {"variant": o.trial.variant, "seed": o.trial.seed, **row, "step": int(row["step"])}
        for o in outcomes
        for row in o.rows
    ]
    with open(out / "sweep.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["variant", "seed", *REPORTED])
        writer.writeheader()
        writer.writerows(rows)
    lines = results_table(rows) if rows else ["No trial reported an evaluation."]
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        lines += ["", "Failed trials:", ""]
        lines += [f"- {o.trial.variant}, seed {o.trial.seed}: {o.error}" for o in failed]
    (out / "sweep.md").write_text("\n".join(lines) + "\n")
    if rows:
        plot_curves(rows, out / "curves.png")
    return lines
