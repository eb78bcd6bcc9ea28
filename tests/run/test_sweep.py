"""Sweeps on Ray Tune: trials are ordinary runs, a failure stops no other, a rerun continues."""

import csv
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from reward_learning.cli import main
from reward_learning.errors import UserInputError
from reward_learning.run.sweep import SweepConfig, parse_seeds, plan
from tests.conftest import TINY

SHARED = [f"{k}={v}" for k, v in TINY.items() if k not in ("steps", "progress", "video")]


def test_seeds_and_settings_make_one_trial_per_combination():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("3,7") == [3, 7]
    config = SweepConfig(
        seeds="0-1", reward=["vice-raq", "vice"], set=["learning_rate=1e-3,3e-4", "goals=5"]
    )
    trials = plan(config)
    assert len(trials) == 2 * 2 * 2
    assert trials[0].variant == "vice-raq (learning_rate=0.001)"  # goals=5 is shared: not named
    assert trials[0].name == "vice-raq_learning_rate0.001_s0"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["learnig_rate=1e-3"], "learnig_rate: not a setting"),
        (["learning_rate=fast"], "expected a float"),
        (["learning_rate=-1,1e-3"], "--learning-rate -1.0: expected a value"),
        (["learning_rate"], "expected KEY=V1,V2"),
    ],
)
def test_a_bad_setting_is_one_line_before_any_trial_starts(settings, message):
    with pytest.raises(UserInputError, match=message):
        plan(SweepConfig(set=settings))


def test_bad_seeds_and_cpus_are_one_line():
    with pytest.raises(UserInputError, match="expected a range"):
        plan(SweepConfig(seeds="a-b"))
    with pytest.raises(UserInputError, match="--cpus-per-trial 0"):
        plan(SweepConfig(cpus_per_trial=0))


@pytest.fixture
def one_ray(tmp_path_factory):
    """One Ray at a time across the test workers (a cluster test's `ray stop` ends every Ray
    here): a file lock beside the workers' temporary folders."""
    with FileLock(tmp_path_factory.getbasetemp().parent / "ray.lock"):
        yield


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_local_sweep_writes_table_plot_and_a_run_per_trial(one_ray, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "push", "--seeds", "0-1", "--steps", "300", "--out", str(out), "--set"]
    assert main([*argv, *SHARED, "learning_rate=1e-3,3e-4"]) == 0
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == [
        f"vice-raq_learning_rate{lr}_s{s}" for lr in ("0.0003", "0.001") for s in (0, 1)
    ]
    rows = _rows(out / "sweep.csv")
    assert {(r["variant"], r["seed"]) for r in rows} == {
        (f"vice-raq (learning_rate={lr})", str(s)) for lr in ("0.001", "0.0003") for s in (0, 1)
    }
    assert [r["step"] for r in rows[:2]] == ["150", "300"]  # every evaluation reached Tune
    table = (out / "sweep.md").read_text()
    assert "vice-raq (learning_rate=0.001) | 2 |" in table and "IQM" in table
    assert (out / "curves.png").stat().st_size > 0


def test_a_corrupt_goal_folder_is_refused_before_ray_starts(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "goal.png").write_bytes(b"not a png")
    out = tmp_path / "sweep"
    argv = ["sweep", "push", "--seeds", "0", "--out", str(out), "--set", f"goal_dir={bad}"]
    assert main(argv) == 2
    assert "corrupt or not an image" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_a_failing_trial_stops_no_other_and_a_rerun_continues_the_runs(one_ray, tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "push", "--seeds", "0-1", "--out", str(out), "--set", *SHARED]
    fails = ["--callbacks", "tests.success_envs:FailsOnOddSeeds"]
    assert main([*argv, "--steps", "300", *fails]) == 2
    assert "1 of 2 trials failed" in capsys.readouterr().err
    table = (out / "sweep.md").read_text()
    assert "Failed trials" in table and "fails on purpose" in table
    assert {r["seed"] for r in _rows(out / "sweep.csv")} == {"0"}
    # Started again with more steps, the trial that ran continues from its checkpoint.
    assert main([*argv, "--steps", "450", *fails]) == 2
    assert [r["step"] for r in _rows(out / "sweep.csv")] == ["150", "300", "450"]


@pytest.mark.slow
def test_a_sweep_runs_on_a_two_node_cluster_with_token_authentication(one_ray, tmp_path):
    ray = str(Path(sys.executable).parent / "ray")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = "6391"

    def call(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)

    try:
        for node in (["--head", "--port", port, "--include-dashboard", "false"],
                     ["--address", f"127.0.0.1:{port}"]):  # fmt: skip
            started = call(ray, "start", "--num-cpus", "1", *node)
            assert started.returncode == 0, started.stderr[-2000:]
        out = tmp_path / "sweep"
        argv = ["sweep", "push", "--seeds", "0-1", "--steps", "300", "--out", str(out)]
        done = call(
            str(Path(sys.executable).parent / "reward-learning"), *argv,
            "--address", f"127.0.0.1:{port}", "--set", *SHARED,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert sorted(p.name for p in (out / "runs").iterdir()) == ["vice-raq_s0", "vice-raq_s1"]
        assert "vice-raq | 2 |" in (out / "sweep.md").read_text()
    finally:
        call(ray, "stop", "--force")
