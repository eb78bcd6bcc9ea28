"""The config of an MNIST active-learning experiment: its fields (``--help``), choices, ranges.

Light to import (no torch), so that the command line's ``--help`` reads it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reward_learning.config import check_ranges
from reward_learning.errors import UserInputError
from reward_learning.questions.active import STRATEGIES

LR_SCHEDULES: tuple[str, ...] = ("one-cycle", "constant")
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")
"""Inference precisions (``devices.inference_dtype``)."""


@dataclass
class MnistConfig:
    """One MNIST active-learning experiment (the ``reward-learning mnist`` command)."""

    strategy: list[str] = field(default_factory=lambda: ["typiclust-margin", "margin"])
    """Query strategies to compare (least-confident, margin, entropy, bald, batchbald, typiclust,
    typiclust-margin, typiclust-batchbald); random is always run too, as the baseline. How each
    fares: benchmarks/README.md."""
    initial: int = 20
    """Labelled digits to start from, balanced over classes."""
    queries: int = 10
    """Labels asked per round."""
    rounds: int = 30
    """Query rounds per run."""
    seeds: int = 3
    """Seeds per strategy (split, network init, random picks)."""
    n_test: int = 1000
    """Held-out digits when the data have no test split of their own."""
    data: str | None = None
    """Directory of MNIST-format IDX files; the embedded 5,000 digits when unset."""
    oracle: str = "simulated"
    """``simulated`` (held-back labels) or ``human`` (type the digit in a window)."""
    oracle_error: float = 0.0
    """Probability that the simulated oracle answers a wrong digit."""
    retrain: str = "scratch"
    """``scratch`` (new network each round) or ``warm`` (keep training one network)."""
    train_steps: int = 200
    """Adam steps per fit."""
    lr_schedule: str = "one-cycle"
    """The learning rate within a fit: one-cycle (up to --learning-rate and down, each fit) or
    constant."""
    learning_rate: float = 3e-3
    """Adam's learning rate (one-cycle: its peak)."""
    mc_passes: int = 10
    """MC-dropout passes for BALD."""
    pool_sample: int = 0
    """Score a random subset of this many pool digits per round (0: the whole pool)."""
    cold_start_labels: int = 100
    """typiclust-margin and typiclust-batchbald: typical picks (TypiClust on the pixels' PCA)
    while fewer labels than this are in hand, then margin or BatchBALD."""
    device: str = "auto"
    """``auto``, ``cpu`` or ``cuda``."""
    precision: str = "auto"
    """Inference (pool scoring, test accuracy) in ``float32``, ``bfloat16``, or ``auto``:
    bfloat16 where the hardware computes it natively (training stays float32)."""
    out: str = "runs/mnist"
    """Output directory: config.json, curves.csv, curves.png."""


MNIST_RANGES: dict[str, tuple[float, float]] = {
    "initial": (1, float("inf")),
    "queries": (1, float("inf")),
    "rounds": (0, float("inf")),
    "seeds": (1, 1_000),
    "n_test": (1, float("inf")),
    "oracle_error": (0.0, 1.0),
    "train_steps": (1, float("inf")),
    "learning_rate": (1e-6, 1.0),
    "mc_passes": (1, 1_000),
    "pool_sample": (0, float("inf")),
}
"""Allowed ranges (inclusive) of the numeric ``MnistConfig`` fields."""


RETRAIN: tuple[str, ...] = ("scratch", "warm")
MNIST_CHOICES: dict[str, tuple[str, ...]] = {
    "strategy": STRATEGIES,
    "oracle": ("simulated", "human"),
    "retrain": RETRAIN,
    "lr_schedule": LR_SCHEDULES,
    "precision": PRECISIONS,
}
"""The allowed values of ``MnistConfig``'s fields that take a name (``--help`` shows them)."""

MNIST_ENTRIES: tuple[str, ...] = ("config.json", "curves.csv", "curves.png", "labels.sqlite*")
"""What an MNIST experiment writes in its ``out`` (``--overwrite`` removes these alone)."""


def validate(config: MnistConfig) -> None:
    """Check every choice and range of an MNIST config before any work starts.

    Raises:
        UserInputError: one line naming the field, the value, what is allowed.
    """
    check_ranges(config, MNIST_RANGES)
    for name, allowed in MNIST_CHOICES.items():
        values = config.strategy if name == "strategy" else [getattr(config, name)]
        for value in values:
            if value not in allowed:
                flag = name.replace("_", "-")
                raise UserInputError(f"--{flag} {value!r}: expected one of {', '.join(allowed)}")
