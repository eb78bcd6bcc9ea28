"""The MNIST demo: data, splits, the CNN, the experiment and its command line."""

import gzip

import numpy as np
import pytest
import torch

from reward_learning.cli import build_parser, main
from reward_learning.mnist import experiment
from reward_learning.mnist.settings import MnistConfig
from reward_learning.questions.active import STRATEGIES, ActiveLearner


@pytest.fixture(scope="module")
def digits():
    return experiment.load_embedded()


def test_embedded_digits_are_real_mnist(digits):
    assert digits.x.shape == (5000, 28, 28) and digits.x.dtype == np.uint8
    assert np.bincount(digits.y).tolist() == [500] * 10


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7).astype(np.uint8)
    experiment.write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    experiment.write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    loaded = experiment.load_idx_dir(tmp_path)
    np.testing.assert_array_equal(loaded.x, images)
    np.testing.assert_array_equal(loaded.y, labels)
    assert loaded.x_test is None


def test_missing_directory_is_one_clear_line(tmp_path):
    with pytest.raises(experiment.DatasetError, match="does not exist") as info:
        experiment.load_idx_dir(tmp_path / "nope")
    assert "\n" not in str(info.value)
    with pytest.raises(experiment.DatasetError, match="no train-images-idx3-ubyte"):
        experiment.load_idx_dir(tmp_path)


def test_truncated_and_corrupt_files(tmp_path):
    experiment.write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    experiment.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    with pytest.raises(experiment.DatasetError, match="truncated or corrupt"):
        experiment.load_idx_dir(tmp_path)
    images.write_bytes(b"\x89PNG not idx at all")
    with pytest.raises(experiment.DatasetError, match="not an IDX file"):
        experiment.load_idx_dir(tmp_path)
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(b"abc")[:-4])
    with pytest.raises(experiment.DatasetError, match="cannot read"):
        experiment.read_idx(gz)


def test_mismatched_image_and_label_counts(tmp_path):
    experiment.write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    experiment.write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(experiment.DatasetError, match="5 images but 4 labels"):
        experiment.load_idx_dir(tmp_path)


def test_split_is_stratified_seeded_and_disjoint(digits):
    a = experiment.split(digits, 20, 1000, seed=0)
    b = experiment.split(digits, 20, 1000, seed=0)
    np.testing.assert_array_equal(a.x_pool, b.x_pool)
    assert np.bincount(a.y_initial).tolist() == [2] * 10
    assert np.bincount(a.y_test).tolist() == [100] * 10
    assert len(a.y_initial) + len(a.y_pool) + len(a.y_test) == 5000


@pytest.mark.parametrize("strategy", ["bald", "margin", "batchbald", "typiclust-batchbald"])
def test_active_run_beats_its_starting_accuracy(digits, strategy):
    config = MnistConfig(rounds=3, queries=20, train_steps=150, n_test=300)
    data = experiment.split(digits, 20, 300, seed=0)
    points = list(experiment.run_strategy(config, strategy, 0, data))
    assert [p.labels for p in points] == [20, 40, 60, 80]
    assert points[-1].accuracy > points[0].accuracy + 0.05


@pytest.mark.parametrize(
    ("schedule", "after"), [("typiclust-margin", "margin"), ("typiclust-batchbald", "batchbald")]
)
def test_a_cold_start_schedule_picks_typical_items_then_switches(digits, schedule, after):
    data = experiment.split(digits, 20, 300, seed=0)
    config = MnistConfig(rounds=2, queries=20, train_steps=20, cold_start_labels=40)
    learner_states = []
    original = ActiveLearner.query

    def spy(self, pool, n):
        learner_states.append((self.n_labels, self.current_strategy()))
        return original(self, pool, n)

    ActiveLearner.query = spy
    try:
        list(experiment.run_strategy(config, schedule, 0, data))
    finally:
        ActiveLearner.query = original
    assert learner_states == [(20, "typiclust"), (40, after)]


MEMORY_CHILD = """
import resource, sys
from reward_learning.mnist import experiment
from reward_learning.mnist.settings import MnistConfig
config = MnistConfig(
    strategy=["batchbald"], rounds=1, seeds=1, train_steps=5, data=sys.argv[1], out=sys.argv[2],
)
digits = experiment.load_digits(config.data)
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
experiment.run_experiment(config)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - loaded) // 1024)
"""


def test_a_full_pool_round_of_20000_images_stays_within_a_memory_bound(tmp_path):
    """Whole-pool BatchBALD and 10 MC-dropout passes: the passes are (10, 20000, 10) floats
    (8 MB). Measured: the round grows the process by about 320 MB (torch's and oneDNN's
    buffers, the model, BatchBALD's float64 copy); with forward passes over 4,096 digits at
    once, as before, by 980 MB."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    for split, n in (("train", 20_000), ("t10k", 2_000)):
        experiment.write_idx(
            tmp_path / f"{split}-images-idx3-ubyte",
            rng.integers(0, 255, (n, 28, 28), dtype=np.uint8),
        )
        experiment.write_idx(
            tmp_path / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8)
        )
    child = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(tmp_path), str(tmp_path / "out")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    grown_mb = int(child.stdout.split()[-1])
    assert grown_mb < 500, f"a round grew the process by {grown_mb} MB"


def test_cli_smoke_writes_curves(tmp_path, capsys):
    out = tmp_path / "mnist"
    code = main(
        [
            "mnist",
            "--strategy",
            "entropy",
            "--rounds",
            "1",
            "--seeds",
            "1",
            "--queries",
            "5",
            "--train-steps",
            "5",
            "--mc-passes",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    points = experiment.read_curves(out / "curves.csv")
    assert {p.strategy for p in points} == {"entropy", "random"}
    assert (out / "curves.png").stat().st_size > 1000
    assert '"strategy"' in (out / "config.json").read_text()


def test_bfloat16_inference_agrees_with_float32(digits):
    order = np.random.default_rng(0).permutation(len(digits.y))  # the digits come by class
    x, y = digits.x[order], digits.y[order]
    exact = experiment.CNNEstimator(train_steps=100, seed=0, precision="float32").fit(
        x[:300], y[:300]
    )
    fast = experiment.CNNEstimator(train_steps=100, seed=0, precision="bfloat16").fit(
        x[:300], y[:300]
    )
    assert exact.inference_dtype == torch.float32 and fast.inference_dtype == torch.bfloat16
    # The same seed and float32 training: the networks are equal, only inference differs.
    for a, b in zip(exact.model.parameters(), fast.model.parameters(), strict=True):
        assert torch.equal(a, b)
    p_exact, p_fast = exact.predict_proba(x[300:800]), fast.predict_proba(x[300:800])
    assert p_fast.dtype == np.float32 and np.allclose(p_fast.sum(1), 1.0, atol=1e-5)
    assert np.abs(p_fast - p_exact).max() < 0.05
    assert (p_fast.argmax(1) == p_exact.argmax(1)).mean() > 0.98
    passes = fast.predict_proba_passes(x[300:400], 3)
    assert passes.shape == (3, 100, 10) and passes.dtype == np.float32


@pytest.mark.parametrize(
    ("flag", "value"), [("--precision", "float16"), ("--lr-schedule", "cosine")]
)
def test_cli_refuses_an_unknown_choice(tmp_path, capsys, flag, value):
    """Every choice is argparse's (and --help lists it): refused before any work."""
    with pytest.raises(SystemExit) as stop:
        main(["mnist", flag, value, "--out", str(tmp_path / "m")])
    assert stop.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {flag}: invalid choice: {value!r}" in last
    assert not (tmp_path / "m").exists()


def test_cli_offers_every_strategy_of_the_core():
    """The default (typiclust-margin) and BatchBALD were once refused when named with --strategy:
    the flag offered only the uncertainty scores."""
    args = build_parser().parse_args(["mnist", "--strategy", *STRATEGIES])
    assert args.strategy == list(STRATEGIES)


def test_one_cycle_rises_to_the_peak_and_falls_within_every_fit(digits):
    estimator = experiment.CNNEstimator(train_steps=40, lr=3e-3, lr_schedule="one-cycle")
    rates: list[float] = []
    estimator.optimizer.register_step_pre_hook(
        lambda optimizer, *_: rates.append(optimizer.param_groups[0]["lr"])
    )
    estimator.fit(digits.x[:100], digits.y[:100]).fit(digits.x[:200], digits.y[:200])
    for fit in (rates[:40], rates[40:]):  # a warm refit starts its own cycle
        peak = int(np.argmax(fit))
        assert fit[peak] == pytest.approx(3e-3, rel=0.01)
        assert 0 < peak < 39 and fit[0] < 3e-3 / 10 and fit[-1] < 3e-3 / 100
    constant = experiment.CNNEstimator(train_steps=5, lr=1e-3).fit(digits.x[:50], digits.y[:50])
    assert constant.optimizer.param_groups[0]["lr"] == 1e-3


def test_cli_missing_data_dir_is_one_line(tmp_path, capsys):
    assert main(["mnist", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.zeros((5, 32, 32), np.uint8), np.zeros(5, np.uint8), "32x32 images, expected 28x28"),
        (
            np.zeros((5, 28, 28), np.uint8),
            np.full(5, 12, np.uint8),
            "labels from 12 to 12, expected digits 0-9",
        ),
    ],
)
def test_idx_files_that_are_not_mnist_are_one_line_errors(
    tmp_path, capsys, images, labels, message
):
    experiment.write_idx(tmp_path / "train-images-idx3-ubyte", images)
    experiment.write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(experiment.DatasetError, match=message):
        experiment.load_idx_dir(tmp_path)
