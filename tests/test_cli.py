"""Bad input at the command line: one line naming the problem, exit status 2, no traceback."""

import subprocess
import sys

import pytest
import torch

from reward_learning.cli import main


@pytest.fixture
def no_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "push", "--goal-dir", "/no/such/folder", "--no-progress"],
            "goal folder /no/such/folder does not exist",
        ),
        (["train", "--steps", "10"], "name a task"),
        (["train", "--resume", "/no/such/run"], "not a run directory"),
        (["evaluate", "/no/such/run"], "not a run directory"),
        (["collect-goals"], "name a task (push, drape) or an env"),
        (["collect-goals", "push", "--env", "Reacher-v5"], "name a task (push, drape) or an env"),
        (["collect-goals", "--env", "Reacher-v5"], "cannot put itself in a success state"),
        (["mnist", "--data", "/no/such/dir"], "dataset directory /no/such/dir does not exist"),
        (["mnist", "--oracle", "human"], "needs a display"),
        (["mnist", "--rounds", "-1", "--out", "/tmp/never"], "--rounds -1: expected a value >= 0"),
        (["mnist", "--oracle-error", "1.5"], "--oracle-error 1.5: expected a value in [0, 1]"),
    ],
)
def test_one_line_errors(capsys, no_display, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0


def test_human_oracle_without_display_fails_before_training(tmp_path, capsys, no_display):
    argv = [
        "train",
        "push",
        "--oracle",
        "human",
        "--steps",
        "300",
        "--goals",
        "2",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(argv) == 2
    assert "needs a display" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_cuda_asked_for_without_cuda(tmp_path, capsys):
    argv = [
        "train",
        "push",
        "--device",
        "cuda",
        "--goals",
        "2",
        "--no-progress",
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(argv) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_unknown_task_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "pussh"])
    assert info.value.code == 2
    assert "invalid choice: 'pussh'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "flag"), [("train", "--gradient-steps"), ("mnist", "--strategy")]
)
def test_help_prints_every_flag(capsys, command, flag):
    """Field docstrings become help text; a "%" in one once broke argparse's formatting."""
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert flag in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--steps", "-5"], "--steps -5: expected a value >= 1"),
        (["--steps", "0"], "--steps 0: expected a value >= 1"),
        (["--goals", "0"], "--goals 0: expected a value in [1, 10000]"),
        (["--oracle-error", "2"], "--oracle-error 2.0: expected a value in [0, 1]"),
        (
            ["--oracle-negative-share", "1"],
            "--oracle-negative-share 1.0: expected a value in [0, 0.99]",
        ),
        (["--image-size", "7"], "--image-size 7: expected a value in [16, 512]"),
        (["--ent-coef", "warm"], "--ent-coef 'warm': expected auto, auto_X or a number X"),
        (["--threads", "0"], "--threads 0: expected a value in [1, 1024]"),
        (["--oracle-delay", "-1"], "--oracle-delay -1: expected a value >= 0"),
        (["--oracle", "later", "--oracle-delay", "500"], "it needs --oracle simulated (not later)"),
    ],
)
def test_out_of_range_flags_are_refused_before_anything_is_written(
    tmp_path, capsys, flags, message
):
    out = tmp_path / "run"
    assert main(["train", "push", "--out", str(out), "--no-progress", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0
    assert not out.exists()


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys):
    out = tmp_path / "file"
    out.write_text("mine")
    assert main(["train", "push", "--out", str(out), "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert out.read_text() == "mine"


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["mnist", "--help"]])
def test_help_loads_neither_torch_nor_mujoco(argv):
    """``--help`` reads the subpackages' menus of choices, not the code behind them."""
    child = (
        "import sys\n"
        "from reward_learning.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted({'torch', 'mujoco', 'stable_baselines3'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True
    )
    assert "reward-learning" in result.stdout and result.stdout.splitlines()[-1] == "[]"
