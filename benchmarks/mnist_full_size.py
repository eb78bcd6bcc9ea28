"""Active learning on a full-size MNIST-format set (Fashion-MNIST): labels, accuracy, time.

Usage: python -m benchmarks.mnist_full_size --data /usr/share/datasets/fashion-mnist
       [--seeds 3] [--rounds 30] [--parallel 2] [--strategies ...] [--resume] [--timings-only]
Every strategy x seed runs in its own process (one torch thread each, ``--parallel`` at a
time), from 20 labels, 10 per round, the whole pool scored every round, the CNN retrained from
scratch. Each finished run is added to benchmarks/results/fashion_mnist/curves.csv at once, so
an interrupted benchmark keeps what it measured and ``--resume`` runs only what is missing.
At the end: curves.png and the ``mnist-full`` section of benchmarks/README.md. ``--timings-only``
(run it alone on the machine) times the CNN's forward pass over 60,000 images at one and two
threads, float32 and bfloat16, and one whole-pool BALD round: the ``mnist-timings`` section.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import machine, update_section
from reward_learning.devices import inference_dtype
from reward_learning.mnist import experiment
from reward_learning.mnist.settings import MnistConfig

RESULTS = Path(__file__).resolve().parent / "results" / "fashion_mnist"
STRATEGIES = [
    "batchbald", "bald", "typiclust-margin", "entropy", "margin", "least-confident", "random",
]  # fmt: skip
"""The issue's seven, the costliest first so that two workers end together."""
EXTRA_STRATEGIES = ["typiclust-batchbald", "typiclust"]  # the other schedule and its first half
DEFAULT = "typiclust-margin"  # the cold-start schedule, the candidate for the default
BUDGETS = (100, 200, 320)
TARGETS = (0.70, 0.75)


def run_one(job: tuple[MnistConfig, str, int]) -> list[experiment.CurvePoint]:
    """One strategy and seed, in a worker process with one torch thread."""
    config, strategy, seed = job
    torch.set_num_threads(1)
    data = experiment.split(
        experiment.load_digits(config.data), config.initial, config.n_test, seed
    )
    return list(experiment.run_strategy(config, strategy, seed, data))


def forward_seconds(threads: int, precision: str, n_items: int = 60_000) -> float:
    """Seconds of one forward pass of the CNN over ``n_items`` digits at ``threads`` threads."""
    torch.set_num_threads(threads)
    estimator = experiment.CNNEstimator(device="cpu", precision=precision)
    digits = np.random.default_rng(0).integers(0, 255, (n_items, 28, 28), dtype=np.uint8)
    estimator.predict_proba(digits[:1000])  # warm-up
    started = time.perf_counter()
    estimator.predict_proba(digits)
    return time.perf_counter() - started


def bald_round_seconds(config: MnistConfig, threads: int = 2) -> experiment.CurvePoint:
    """One BALD round (10 MC-dropout passes over the whole pool) at ``threads`` threads."""
    torch.set_num_threads(threads)
    data = experiment.split(experiment.load_digits(config.data), config.initial, config.n_test, 0)
    one_round = MnistConfig(strategy=["bald"], rounds=1, data=config.data)
    return list(experiment.run_strategy(one_round, "bald", 0, data))[1]


def timings(config: MnistConfig) -> str:
    """The forward pass over 60,000 digits by precision and threads, and one BALD round."""
    seconds = {(p, t): forward_seconds(t, p) for p in ("float32", "bfloat16") for t in (1, 2)}
    bald = bald_round_seconds(config)
    return (
        f"The CNN's forward pass over 60,000 28x28 images, batches of {experiment.INFERENCE_BATCH}, "
        f"channels-last: float32 {seconds['float32', 1]:.1f} s on one thread, "
        f"{seconds['float32', 2]:.1f} s on two; bfloat16 {seconds['bfloat16', 1]:.1f} s and "
        f"{seconds['bfloat16', 2]:.1f} s (before: 31.5 s on one thread, float32 in batches of "
        f"4,096). One BALD round on two threads, whole pool, `--precision auto` "
        f"({inference_dtype(torch.device('cpu'))} here): "
        f"{bald.select_s + bald.fit_s + bald.test_s:.1f} s (select {bald.select_s:.1f}, fit "
        f"{bald.fit_s:.1f}, test {bald.test_s:.1f})."
    )


def median_at(points: list[experiment.CurvePoint], strategy: str, labels: int) -> float:
    """Median test accuracy over seeds at ``labels`` labels."""
    return float(
        np.median([p.accuracy for p in points if p.strategy == strategy and p.labels == labels])
    )


def report(
    points: list[experiment.CurvePoint],
    config: MnistConfig,
    command: str,
    minutes: float,
    kept: int = 0,
) -> str:
    """The README section: the table, the default against random, the time of a round.

    ``kept``: runs measured by an earlier, interrupted invocation (``--resume``), whose time
    ``minutes`` does not include.
    """
    seeds = config.seeds
    fit = f"{config.train_steps} Adam steps, learning rate {config.learning_rate:g}" + (
        " at its peak of one cycle" if config.lr_schedule == "one-cycle" else ", constant"
    )
    strategies = list(dict.fromkeys(p.strategy for p in points))
    budget = max(p.labels for p in points)

    def labels_to(strategy: str, accuracy: float) -> float:
        return float(
            np.median(
                [experiment.labels_to_reach(points, strategy, s, accuracy) for s in range(seeds)]
            )
        )

    def show(x: float) -> str:
        return f"> {budget}" if x == float("inf") else f"{x:.0f}"

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}: `{command}` ({minutes:.0f} min"
        + (
            f"; {kept} runs kept from an interrupted invocation, not timed here)." if kept else ")."
        ),
        f"Fashion-MNIST (Debian's dataset-fashion-mnist): 60,000 pool images, the 10,000 test "
        f"images; 20 initial labels (2 per class), 10 per round, the whole pool scored every round, "
        f"the CNN retrained from scratch ({fit}). Median over {seeds} seeds; curves in "
        "`benchmarks/results/fashion_mnist/curves.png`.",
        "",
        "| strategy | labels to 70% | labels to 75% | "
        + " | ".join(f"accuracy at {b}" for b in BUDGETS)
        + " | s per round: select / fit / test |",
        "|---|---|---|" + "---|" * len(BUDGETS) + "---|",
    ]
    for strategy in strategies:
        rounds = [p for p in points if p.strategy == strategy and p.round > 0]
        timing = " / ".join(
            f"{np.median([getattr(p, part) for p in rounds]):.1f}"
            for part in ("select_s", "fit_s", "test_s")
        )
        accuracies = " | ".join(f"{median_at(points, strategy, b):.3f}" for b in BUDGETS)
        lines.append(
            f"| {strategy} | {show(labels_to(strategy, TARGETS[0]))} | "
            f"{show(labels_to(strategy, TARGETS[1]))} | {accuracies} | {timing} |"
        )
    if DEFAULT in strategies and "random" in strategies:
        budgets = sorted({p.labels for p in points if p.strategy == DEFAULT})
        gaps = [median_at(points, DEFAULT, b) - median_at(points, "random", b) for b in budgets]
        behind = [(b, g) for b, g in zip(budgets, gaps, strict=True) if g < 0]
        worst = min(gaps)
        lines += [
            "",
            f"The default ({DEFAULT}) against random, median accuracy at each of the "
            f"{len(budgets)} budgets from {budgets[0]} to {budgets[-1]} labels: at or above random "
            f"at {len(budgets) - len(behind)}, behind at {len(behind)}"
            + (
                f" ({', '.join(f'{b}: {100 * g:+.1f} pts' for b, g in behind)}; worst "
                f"{100 * worst:+.1f} pts)."
                if behind
                else "."
            ),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="a folder of MNIST-format IDX files")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--strategies", nargs="+", default=STRATEGIES, help=f"also: {' '.join(EXTRA_STRATEGIES)}"
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the finished runs in curves.csv, run the rest"
    )
    parser.add_argument(
        "--timings-only",
        action="store_true",
        help="time the forward pass and a BALD round (run it alone on the machine), no runs",
    )
    args = parser.parse_args()
    config = MnistConfig(
        strategy=args.strategies, rounds=args.rounds, seeds=args.seeds, data=args.data
    )
    experiment.load_digits(config.data)  # a missing or broken folder fails here, in one line
    if args.timings_only:
        body = (
            f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, alone on the machine: "
            f"`python -m benchmarks.mnist_full_size --data {args.data} --timings-only`. "
            + timings(config)
        )
        update_section("mnist-timings", body)
        print(body)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    curves = RESULTS / "curves.csv"
    points = experiment.read_curves(curves) if args.resume and curves.exists() else []
    finished = {(p.strategy, p.seed) for p in points if p.round == args.rounds}
    points = [p for p in points if (p.strategy, p.seed) in finished]
    jobs = [
        (config, s, seed)
        for s in args.strategies
        for seed in range(args.seeds)
        if (s, seed) not in finished
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.parallel) as pool:
        for done in as_completed([pool.submit(run_one, job) for job in jobs]):
            run = done.result()
            points += run
            experiment.write_curves(points, curves)
            last = run[-1]
            print(
                f"{last.strategy} seed {last.seed}: {last.accuracy:.3f} at {last.labels} labels "
                f"({(time.perf_counter() - started) / 60:.1f} min)",
                flush=True,
            )
    minutes = (time.perf_counter() - started) / 60
    experiment.plot_curves(points, RESULTS / "curves.png")
    command = (
        f"python -m benchmarks.mnist_full_size --data {args.data} --seeds {args.seeds} "
        f"--rounds {args.rounds} --parallel {args.parallel}"
        + ("" if args.strategies == STRATEGIES else f" --strategies {' '.join(args.strategies)}")
    )
    body = report(points, config, command, minutes, kept=len(finished))
    update_section("mnist-full", body)
    print(body)


if __name__ == "__main__":
    main()
