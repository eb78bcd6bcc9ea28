"""The package works installed from its wheel, not only from a checkout."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

FROM_THE_WHEEL = """
import os, sys
os.environ.setdefault("MUJOCO_GL", "egl")
import envs, reward_learning
assert envs.__file__.startswith(sys.argv[1]), envs.__file__  # the installed copy, not the checkout
from reward_learning.cli import main
from reward_learning.tasks.make import make_env
for task in ("push", "drape"):
    make_env(task).reset(seed=0)
sys.exit(main(["train", "push", "--steps", "400", "--learning-starts", "100",
               "--eval-every", "200", "--eval-episodes", "2", "--goals", "4",
               "--no-progress", "--no-video", "--out", sys.argv[2]]))
"""


@pytest.mark.slow
def test_the_wheel_creates_both_envs_and_trains(tmp_path):
    source = tmp_path / "source"  # setuptools writes build/ beside the sources: not in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("reward_learning", "envs", "assets"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "wheel"), "-q"],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("reward_learning-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel),
         "-q"],
        check=True, cwd=tmp_path,
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", FROM_THE_WHEEL, str(target), str(tmp_path / "run")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(target)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "run" / "metrics.csv").exists()
