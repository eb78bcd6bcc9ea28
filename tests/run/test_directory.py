"""What a user owns is never deleted, and every mistake is one line before any file changes."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from reward_learning.cli import main
from reward_learning.config import save_config
from reward_learning.errors import UserInputError
from reward_learning.questions.labels import LabelStore
from reward_learning.run import settings
from reward_learning.run.directory import RUN_ENTRIES, RunLock, foreign_entries
from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[2]


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with a checksum of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def fake_run(out: Path, labels: int = 3) -> Path:
    """A run directory as `train` leaves it (config, answers, a checkpoint), without training."""
    out.mkdir(parents=True)
    save_config(settings.task_config("push", out=str(out), **TINY), out / "config.json")
    store = LabelStore(out / "labels.sqlite", run=out.name, task="push")
    rng = np.random.default_rng(0)
    for i in range(labels):
        store.add(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), i % 2, "simulated", key=i)
    store.close()
    (out / "checkpoint-150").mkdir()
    (out / "checkpoint-150" / "state.json").write_text('{"step": 150}')
    (out / "latest").write_text("checkpoint-150")
    (out / "metrics.csv").write_text("step,success_rate\n150,0.5\n")
    return out


@pytest.fixture
def run(tmp_path):
    return fake_run(tmp_path / "run")


def one_line_error(capsys, code: int) -> str:
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize(
    "flags",
    [["--goal-dir", "EMPTY"], ["--seed", "-1"], ["--device", "tpu"]],
    ids=["empty-goal-dir", "negative-seed", "unknown-device"],
)
def test_overwrite_deletes_nothing_when_a_check_fails(tmp_path, run, capsys, flags):
    (tmp_path / "EMPTY").mkdir()
    flags = [str(tmp_path / f) if f == "EMPTY" else f for f in flags]
    before = tree_digest(tmp_path)
    code = main(["train", "push", "--out", str(run), "--overwrite", *flags])
    one_line_error(capsys, code)
    assert tree_digest(tmp_path) == before


def test_overwrite_refuses_a_folder_holding_files_a_run_did_not_write(tmp_path, capsys):
    precious = tmp_path / "precious"
    (precious / "sub").mkdir(parents=True)
    (precious / "thesis.txt").write_text("x")
    (precious / "sub" / "data.csv").write_text("1,2")
    before = tree_digest(tmp_path)
    for flags in ([], ["--overwrite"]):
        message = one_line_error(capsys, main(["train", "push", "--out", str(precious), *flags]))
        assert (
            "thesis.txt" in message and "sub/" in message and "already holds a run" not in message
        )
    assert tree_digest(tmp_path) == before


def test_overwrite_removes_a_runs_own_files_and_keeps_nothing_else_of_it(tmp_path, run):
    assert foreign_entries(run, RUN_ENTRIES) == []
    (run / "notes.txt").write_text("mine")
    assert foreign_entries(run, RUN_ENTRIES) == ["notes.txt"]


def test_sweep_overwrite_refuses_a_folder_with_a_foreign_file(tmp_path, capsys):
    out = tmp_path / "sweep"
    fake_run(out / "runs" / "vice-raq_s0")
    (out / "notes.txt").write_text("mine")
    before = tree_digest(tmp_path)
    code = main(["sweep", "push", "--seeds", "0", "--out", str(out), "--overwrite"])
    assert "notes.txt" in one_line_error(capsys, code)
    assert tree_digest(tmp_path) == before


def test_mnist_refuses_to_replace_an_earlier_experiment(tmp_path, capsys):
    out = tmp_path / "mnist"
    out.mkdir()
    (out / "curves.csv").write_text("strategy\n")
    code = main(["mnist", "--out", str(out), "--rounds", "0", "--seeds", "1"])
    assert "--overwrite" in one_line_error(capsys, code)
    assert (out / "curves.csv").read_text() == "strategy\n"


def export_folder(folder: Path, images: list[np.ndarray]) -> Path:
    folder.mkdir()
    rows = ["file,label,source,run,task,key,probability,score,created"]
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i}.png"), image)
        rows.append(f"{i}.png,1,human,other,push,{i},,,0")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_a_label_import_that_does_not_fit_the_run_is_refused_whole(tmp_path, run, capsys):
    folder = export_folder(
        tmp_path / "export",
        [np.zeros((64, 64, 3), np.uint8), np.zeros((5, 5), np.uint8)],
    )
    before = tree_digest(run)
    message = one_line_error(capsys, main(["labels", "import", str(run), "--folder", str(folder)]))
    assert "64x64x3" in message and "48x48x3" in message
    assert tree_digest(run) == before


def test_a_gray_label_of_the_runs_size_is_imported_as_rgb(tmp_path, run, capsys):
    folder = export_folder(tmp_path / "export", [np.full((48, 48), 7, np.uint8)])
    assert main(["labels", "import", str(run), "--folder", str(folder)]) == 0
    assert "1 answers imported" in capsys.readouterr().out
    image = LabelStore(run / "labels.sqlite").answers()[-1].image
    assert image.shape == (48, 48, 3) and (image == 7).all()


def test_resume_skips_stored_answers_of_another_size_and_names_them(tmp_path, capsys):
    from reward_learning.run.training import TrainingRun

    out = tmp_path / "run"
    out.mkdir()
    config = settings.task_config("push", out=str(out), **TINY)
    save_config(config, out / "config.json")
    store = LabelStore(out / "labels.sqlite", run="run", task="push")
    good = store.add(np.zeros((48, 48, 3), np.uint8), 1, "simulated")
    bad = [store.add(np.zeros(shape, np.uint8), 1, "imported") for shape in ((64, 64, 3), (5, 5))]
    store.close()
    resumed = TrainingRun(settings.load_run_config(out), resume=True)
    assert resumed.labels_used == 1 and good not in bad
    err = capsys.readouterr().err
    assert f"answers {bad[0]}, {bad[1]}" in err and "skipped" in err
    resumed.lock.release()


def test_a_second_process_is_refused_a_run_directory_in_use(tmp_path, run):
    held = RunLock(run)
    try:
        with pytest.raises(UserInputError, match=f"in use by process {os.getpid()}"):
            RunLock(run)
    finally:
        held.release()
    RunLock(run).release()


README_TASK = "# my_task.py: an env of your own"


@pytest.mark.slow
def test_the_readmes_own_env_example_runs_as_written(tmp_path):
    readme = (REPO / "README.md").read_text()
    start = readme.index(README_TASK)
    block = readme[start : readme.index("# then", start)]
    code = "\n".join(line.removeprefix("    ") for line in block.splitlines())
    (tmp_path / "my_task.py").write_text(code)
    goals = tmp_path / "my_goal_photos"
    goals.mkdir()
    for i in range(2):
        cv2.imwrite(str(goals / f"{i}.png"), np.full((48, 48, 3), 40 * i, np.uint8))
    tiny = ["--steps", "120", "--learning-starts", "60", "--eval-every", "120",
            "--eval-episodes", "1", "--no-progress", "--no-video", "--device", "cpu"]  # fmt: skip
    command = [
        str(Path(sys.executable).parent / "reward-learning"), "train", "--env",
        "my_task:MyReacher-v0", "--goal-dir", "my_goal_photos/", "--oracle", "later", *tiny,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "success rate" in done.stdout


@pytest.mark.parametrize("task", ["this:Pusher-v5", "evil_mod:Evil-v0"])
def test_a_received_run_does_not_choose_a_module_to_import(run, capsys, monkeypatch, task):
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "task": task}))
    marker = run / "imported"
    (run / "evil_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(run))  # PYTHONPATH=. inside the received directory
    for argv in (["evaluate", str(run)], ["train", "--resume", str(run)]):
        assert "does not choose code" in one_line_error(capsys, main(argv))
    named = ["evaluate", str(run), "--env", task]
    if task.startswith("evil"):  # named by the user, but found in the run directory itself
        assert "from the run directory itself" in one_line_error(capsys, main(named))
    assert not marker.exists() and "this" not in sys.modules


def test_an_env_whose_observation_cannot_be_flattened_fails_before_any_file(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--env", "tests.success_envs:SequenceObservation-v0", "--out", str(out)])
    assert "cannot be flattened" in one_line_error(capsys, code)
    assert not out.exists()


def test_an_env_whose_render_returns_none_fails_before_any_file(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--env", "tests.success_envs:RendersNothing-v0", "--out", str(out)])
    assert "render() returned None" in one_line_error(capsys, code)
    assert not out.exists()


def weak_inputs(tmp: Path, run: Path) -> dict[str, list[str]]:
    (tmp / "afile").write_text("x")
    (tmp / "tiny").mkdir()
    cv2.imwrite(str(tmp / "tiny" / "goal.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(tmp / "goal.png"), np.zeros((48, 48, 3), np.uint8))
    new = str(tmp / "new")
    return {
        "seed": ["train", "push", "--seed", "-1", "--out", new],
        "device": ["train", "push", "--device", "tpu", "--out", new],
        "out-under-file": ["train", "push", "--out", str(tmp / "afile" / "sub")],
        "sweep-out-file": ["sweep", "push", "--out", str(tmp / "afile")],
        "episodes-0": ["evaluate", str(run), "--episodes", "0"],
        "episodes-negative": ["evaluate", str(run), "--episodes", "-3"],
        "goals-0": ["collect-goals", "push", "-n", "0", "--out", new],
        "goals-negative": ["collect-goals", "push", "-n", "-1", "--out", new],
        "sweep-sets-seed": ["sweep", "push", "--set", "seed=3", "--out", new],
        "sweep-sets-threads": ["sweep", "push", "--set", "threads=2", "--out", new],
        "sweep-set-steps": ["sweep", "push", "--set", "steps=-1", "--steps", "10", "--out", new],
        "sweep-seeds": ["sweep", "push", "--seeds", "-1", "--out", new],
        "env-kwargs-bundled": ["train", "push", "--env-kwargs", '{"a": 1}', "--out", new],
        "sweep-env-kwargs": ["sweep", "push", "--set", "env_kwargs={bad", "--out", new],
        "goal-too-small": ["train", "push", "--goal-dir", str(tmp / "tiny"), "--out", new],
        "goal-dir-file": ["train", "push", "--goal-dir", str(tmp / "goal.png"), "--out", new],
        "learning-rate": ["train", "push", "--learning-rate", "-1e-3", "--out", new],
        "resume-overwrite": ["train", "--resume", str(run), "--overwrite"],
        "address": ["sweep", "push", "--address", "127.0.0.1:1", "--out", new],
    }


WEAK = [
    "seed", "device", "out-under-file", "sweep-out-file", "episodes-0", "episodes-negative",
    "goals-0", "goals-negative", "sweep-sets-seed", "sweep-sets-threads", "sweep-set-steps",
    "sweep-seeds", "env-kwargs-bundled", "sweep-env-kwargs", "goal-too-small", "goal-dir-file",
    "learning-rate", "resume-overwrite", "address",
]  # fmt: skip


@pytest.mark.parametrize("case", WEAK)
def test_a_bad_input_is_one_line_with_status_2_and_no_file_changed(tmp_path, capsys, case):
    run = fake_run(tmp_path / "run")
    argv = weak_inputs(tmp_path, run)[case]
    before = tree_digest(tmp_path)
    one_line_error(capsys, main(argv))
    assert tree_digest(tmp_path) == before
    assert not (tmp_path / "new").exists()


def test_without_a_working_display_the_label_window_says_so(run, capsys, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":987")  # no X server there
    message = one_line_error(capsys, main(["labels", "review", str(run)]))
    assert "accepts no connection" in message and "--oracle" not in message
