"""Runs survive a kill at any moment, stay in their own directory and load nothing unsafe."""

import errno
import gc
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from reward_learning.cli import main
from reward_learning.errors import UserInputError
from reward_learning.run import checkpoint, evaluation, metrics, settings, training
from tests.conftest import TINY, tiny_run

REPO = Path(__file__).resolve().parents[2]
SMALL = {**TINY, "steps": 600}

KILLED_RUN = """
import os, signal, sys
os.environ.setdefault("MUJOCO_GL", "egl")
import torch
torch.set_num_threads(1)
from reward_learning.reward import vice
from reward_learning.run import checkpoint, settings, training
from tests.conftest import TINY, tiny_run

moment, out = sys.argv[1], sys.argv[2]
calls = {"n": 0}

def kill_on(n):
    calls["n"] += 1
    if calls["n"] == n:
        os.kill(os.getpid(), signal.SIGKILL)

if moment == "sac-update":
    import stable_baselines3
    original_train = stable_baselines3.SAC.train
    def train(self, *args, **kwargs):
        if self.num_timesteps >= 400:
            kill_on(1)
        return original_train(self, *args, **kwargs)
    stable_baselines3.SAC.train = train
elif moment == "classifier-update":
    original_update = vice.ClassifierCallback.update
    def update(self):
        if self.num_timesteps >= 400:
            kill_on(1)
        return original_update(self)
    vice.ClassifierCallback.update = update
elif moment == "checkpoint-write":
    original_savez = checkpoint.np.savez
    def savez(path, *args, **kwargs):
        original_savez(path, *args, **kwargs)
        if str(path).endswith("replay.npz"):
            kill_on(3)  # inside the third checkpoint (step 450), after its replay buffer
    checkpoint.np.savez = savez
config = settings.TrainConfig(out=out, **{**TINY, "steps": 600})
training.TrainingRun(config).train()
"""


def run_killed(moment, out):
    result = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, moment, str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["sac-update", "classifier-update", "checkpoint-write"])
def test_a_run_killed_at_any_moment_resumes_without_losing_a_label(tmp_path, moment):
    out = tmp_path / "run"
    run_killed(moment, out)
    saved = checkpoint.latest(out)
    assert saved is not None and not saved.name.endswith(".partial")
    steps_saved = checkpoint.read_state(saved)["step"]
    assert steps_saved in (300, 450)  # the last whole checkpoint: one evaluation interval lost
    labels_before = [(a.id, a.label) for a in training.TrainingRun(
        settings.load_run_config(out), resume=True
    ).store.answers(include_skipped=True)]  # fmt: skip
    assert labels_before
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    assert resumed.model.num_timesteps == steps_saved
    assert resumed.labels_used == len([label for _, label in labels_before if label is not None])
    summary = resumed.train()
    assert summary["steps"] == 600
    answers = resumed.store.answers(include_skipped=True)
    assert [(a.id, a.label) for a in answers][: len(labels_before)] == labels_before
    hashes = resumed.store.db.execute("SELECT image_hash FROM labels").fetchall()
    assert len(hashes) == len(set(hashes))  # no frame asked twice
    steps = [r["step"] for r in metrics.read_metrics(out / "metrics.csv")]
    assert steps == [150, 300, 450, 600]  # continuous, no row twice
    assert checkpoint.read_state(checkpoint.latest(out))["step"] == 600
    assert len(list(out.glob("checkpoint-*"))) <= 2  # the latest and the one before
    logs = sorted(p.name for p in (out / "logs").glob("progress*.csv"))
    assert logs == ["progress-from-" + str(steps_saved) + ".csv", "progress.csv"]  # both kept


@pytest.mark.slow
def test_ctrl_c_saves_and_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    flags = ["--steps", "5000", "--learning-starts", "100", "--eval-every", "150",
             "--eval-episodes", "2", "--queries-every", "100", "--classifier-every", "100",
             "--goals", "4", "--no-progress", "--no-video", "--device", "cpu"]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "reward_learning.cli", "train", "push", "--out", str(out), *flags],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "MUJOCO_GL": "egl"},
        # A shell's background job starts with SIGINT ignored, and Python then installs no
        # KeyboardInterrupt handler: give the run the disposition a terminal gives it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.time() + 300
    while not (out / checkpoint.LATEST).exists():
        assert time.time() < deadline and process.poll() is None
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert f"continue with `reward-learning train --resume {out}`" in stderr
    assert "Traceback" not in stderr
    step = checkpoint.read_state(checkpoint.latest(out))["step"]
    assert step >= 150
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    assert resumed.model.num_timesteps == step
    resumed.config.steps = (step // 150 + 2) * 150
    resumed.train()
    after = [r["step"] for r in metrics.read_metrics(out / "metrics.csv") if r["step"] > step]
    assert after and all(s % 150 == 0 for s in after)  # on the grid an unbroken run evaluates


def tree(path):
    return {p.relative_to(path): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


def test_moved_and_copied_runs_resume_in_their_own_directory(tmp_path, monkeypatch):
    original = tmp_path / "a" / "run"
    tiny_run(original, steps=150).train()
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "a", moved)
    before = tree(moved / "run")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["train", "--resume", str(copy), "--steps", "300"]) == 0
    assert tree(moved / "run") == before  # the original is untouched
    assert not any(elsewhere.iterdir())  # nothing written where the command ran
    assert checkpoint.read_state(checkpoint.latest(copy))["step"] == 300
    labels = training.TrainingRun(settings.load_run_config(copy), resume=True).labels_used
    assert labels >= len(
        training.TrainingRun(settings.load_run_config(moved / "run"), resume=True).store.answers()
    )


def test_a_second_run_into_one_directory_is_refused_and_overwrite_starts_clean(tmp_path, capsys):
    out = tmp_path / "run"
    tiny_run(out, steps=150).train()
    before = tree(out)
    with pytest.raises(UserInputError, match="already holds a run: continue it with"):
        tiny_run(out)
    assert tree(out) == before
    flags = ["--steps", "150", "--learning-starts", "100", "--eval-every", "150",
             "--eval-episodes", "2", "--goals", "4", "--no-progress", "--no-video"]  # fmt: skip
    assert main(["train", "push", "--out", str(out), *flags]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["train", "push", "--out", str(out), "--overwrite", *flags]) == 0
    assert metrics.read_metrics(out / "metrics.csv")[0]["step"] == 150
    assert len(metrics.read_metrics(out / "metrics.csv")) == 1


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_run_directory_runs_no_code(tmp_path):
    out = tmp_path / "run"
    tiny_run(out, steps=150).train()
    marker = tmp_path / "pwned"
    for name in ("sac.zip", "replay.pkl", f"{checkpoint.latest(out).name}/replay.pkl"):
        (out / name).write_bytes(pickle.dumps(Payload(marker)))
    evaluation.evaluate(out, episodes=1, video=False)
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    resumed.config.steps = 300
    resumed.train()
    assert not marker.exists()
    # and a pickle where a checkpoint's arrays live is refused, not run
    (out / checkpoint.latest(out).name / "replay.npz").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(UserInputError, match="replay.npz.*is damaged|is damaged.*allow_pickle"):
        training.TrainingRun(settings.load_run_config(out), resume=True)
    assert not marker.exists()


def test_a_full_disk_during_a_checkpoint_is_one_line_and_the_previous_one_resumes(
    tmp_path, monkeypatch
):
    out = tmp_path / "run"
    run = tiny_run(out, steps=150)
    run.train()

    savez = np.savez

    def full(path, *args, **kwargs):
        if str(path).endswith("replay.npz"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return savez(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint.np, "savez", full)
    run.config.steps = 300
    with pytest.raises(UserInputError, match="no space left on the device of .* free some space"):
        run.train()
    monkeypatch.undo()
    assert checkpoint.read_state(checkpoint.latest(out))["step"] == 150
    assert not list(out.glob("*.partial"))
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    assert resumed.model.num_timesteps == 150
    assert np.isfinite(resumed.model.replay_buffer.rewards[:150]).all()


def test_normalized_observations_resume_and_evaluate_with_their_statistics(tmp_path):
    out = tmp_path / "run"
    run = tiny_run(out, steps=150, normalize_obs=True)
    run.train()
    mean, var = run.obs_stats()
    assert mean.shape == (4,) and np.all(var > 0)
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    np.testing.assert_allclose(resumed.obs_stats()[0], mean)
    saved = evaluation.load_policy(out)
    np.testing.assert_allclose(saved.obs_stats[0], mean)  # what `evaluate` normalizes with
    image = tiny_run(tmp_path / "image", steps=150, policy_input="pixels+proprio")
    image.train()  # a pixel policy normalizes its proprioception beside the frames
    assert image.obs_stats()[0].shape == (2,)
    np.testing.assert_allclose(
        evaluation.load_policy(tmp_path / "image").obs_stats[0], image.obs_stats()[0]
    )


def test_a_run_shorter_than_the_evaluation_interval_evaluates_once_at_its_end(tmp_path):
    import json

    out = tmp_path / "run"
    tiny_run(out, steps=120).train()  # evaluations every 150 steps
    assert [r["step"] for r in metrics.read_metrics(out / "metrics.csv")] == [120]
    assert (out / "success.png").exists()

    def refuse(constant):
        raise ValueError(f"{constant} in summary.json")

    summary = json.loads((out / "summary.json").read_text(), parse_constant=refuse)
    assert summary["steps"] == 120 and summary["success_rate"] is not None


def test_resume_applies_the_flags_that_can_change_and_refuses_the_rest(tmp_path, capsys):
    out = tmp_path / "run"
    tiny_run(out, steps=150).train()
    assert main(["train", "--resume", str(out), "--reward", "vice"]) == 2
    err = capsys.readouterr().err
    assert "--reward cannot change when a run resumes (it was 'vice-raq')" in err
    assert main(["train", "--resume", str(out), "--steps", "300", "--label-budget", "3"]) == 0
    config = settings.load_run_config(out)
    assert (config.steps, config.label_budget, config.reward) == (300, 3, "vice-raq")


def test_a_resumed_run_continues_its_counters_and_random_streams(tmp_path):
    import json

    import torch

    out = tmp_path / "run"
    first = tiny_run(out, steps=300)
    first.train()
    asked = first.query_callback.asked
    classifier_rng = first.classifier_callback.rng.bit_generator.state
    oracle_rng = first.answering.simulated.rng.bit_generator.state
    state = json.loads((checkpoint.latest(out) / "state.json").read_text())
    assert state["queries"]["asked"] == asked > 0
    torch.manual_seed(12345)  # anything: the checkpoint's stream must win
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    resumed._callbacks()
    assert resumed.query_callback.asked == asked
    assert resumed.classifier_callback.rng.bit_generator.state == classifier_rng
    assert resumed.answering.simulated.rng.bit_generator.state == oracle_rng
    saved = torch.load(checkpoint.latest(out) / "learner.pt", weights_only=True)["torch_rng"]
    assert torch.equal(torch.get_rng_state(), saved)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["learner.pt", "classifier.pt", "replay.npz", "frames.npy", "obs_stats.npz", "state.json"],
)
def test_a_damaged_checkpoint_is_named_with_the_one_to_fall_back_to(tmp_path, trained, name):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    latest = checkpoint.latest(out)
    damaged = latest / name
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    damaged_line = f"checkpoint {latest.name} of .* is damaged .*: fall back to checkpoint-150"
    loads = [lambda: training.TrainingRun(settings.load_run_config(out), resume=True)]
    if name in ("learner.pt", "obs_stats.npz"):  # what `evaluate` reads
        loads.append(lambda: evaluation.load_policy(out))

    def data(path):  # not the lock (it names the process) nor SQLite's shared-memory index
        return {
            p: t for p, t in tree(path).items() if p.name not in ("run.lock", "labels.sqlite-shm")
        }

    for load in loads:
        before = data(out)
        with pytest.raises(UserInputError, match=damaged_line):
            load()
        gc.collect()  # whatever the refused load left open is closed, as when its process exits
        assert data(out) == before


@pytest.mark.slow
def test_a_resume_refused_for_its_label_store_changes_no_file(tmp_path, trained):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    for leftover in ("labels.sqlite-wal", "labels.sqlite-shm"):
        (out / leftover).unlink()
    (out / "labels.sqlite").write_bytes(b"not a database" * 100)
    header = (out / "metrics.csv").read_text().splitlines()[0]
    with open(out / "metrics.csv", "a") as f:  # an evaluation logged after the last checkpoint
        f.write("100000" + ",0" * header.count(",") + "\n")
    before = tree(out)
    with pytest.raises(UserInputError, match="not a usable label database"):
        training.TrainingRun(settings.load_run_config(out), resume=True)
    gc.collect()
    assert {p: t for p, t in tree(out).items() if p.name != "run.lock"} == {
        p: t for p, t in before.items() if p.name != "run.lock"
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained") / "run"
    run = tiny_run(out, steps=300, normalize_obs=True)
    run.train()
    assert len(list(out.glob("checkpoint-*"))) == 2  # the one before is kept to fall back to
    # The store stays open, as a killed process leaves it: its answers still in labels.sqlite-wal.
    assert (out / "labels.sqlite-wal").stat().st_size > 0
    yield out
    run.store.close()
