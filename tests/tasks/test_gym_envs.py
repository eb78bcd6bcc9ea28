"""Envs no one here wrote, as tasks: Gymnasium's own MuJoCo envs through ``--env``."""

import json
import time

import cv2
import gymnasium as gym
import numpy as np
import pytest

from reward_learning.cli import main
from reward_learning.questions.labels import LabelStore
from reward_learning.tasks.gym_envs import FastMujocoRender, ImageTask
from reward_learning.tasks.make import make_env
from tests.conftest import TINY

REACHER = "tests.success_envs:SuccessReacher-v0"  # Reacher-v5 with is_success, imported by id
FLAGS = [
    f"--{key.replace('_', '-')}={value}"
    for key, value in TINY.items()
    if key not in ("progress", "video")
] + ["--no-progress", "--no-video"]


def test_frames_and_state_come_from_the_env():
    env = make_env(REACHER, "dict", 48)
    obs, _ = env.reset(seed=0)
    raw = gym.make("Reacher-v5").reset(seed=0)[0]
    assert obs["image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
    np.testing.assert_allclose(obs["state"], raw, rtol=1e-6)
    _, reward, _, _, info = env.step(np.zeros(2, np.float32))
    assert reward == float(info["is_success"]) and "env_reward" in info
    with pytest.raises(ValueError, match="not finite"):
        env.step(np.array([np.nan, 0.0]))


@pytest.mark.parametrize("goal_targets", ["fingertip", "sampled"])
def test_the_test_reacher_poses_success_where_its_targets_lie(goal_targets):
    env = gym.make(REACHER, goal_targets=goal_targets).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    targets = []
    for _ in range(50):
        env.set_random_success_state(rng)
        targets.append(env.get_body_com("target")[:2])
        assert env.step(np.zeros(2))[4]["is_success"]
    if goal_targets == "sampled":  # Reacher's own targets: a 0.2 m disc, not the arm's 0.21
        assert np.linalg.norm(targets, axis=1).max() < 0.2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "Reachr-v5"], "Did you mean: `Reacher`"),
        (["--env", "no_such_module:Env-v0"], "No module named 'no_such_module'"),
        (["--env", "CartPole-v1"], "need a Box"),
        (["--env", "Reacher-v5"], "reports no info['is_success'], which the simulated oracle"),
        (["--env", "Reacher-v5", "--oracle", "later"], "cannot put itself in a success state"),
        (["--env", "Reacher-v5", "--env-kwargs", "[1]"], "expected a JSON object"),
        (["--env", "Reacher-v5", "--env-kwargs", '{"bogus": 1}'], "bogus"),
        (["push", "--env", "Reacher-v5"], "not both"),
    ],
)
def test_an_env_that_cannot_be_a_task_is_one_line(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert main(["train", *argv, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not out.exists()


def test_fast_render_keeps_pusher_frames_and_is_faster():
    def frames(fast: bool) -> tuple[np.ndarray, float]:
        env = gym.make("Pusher-v5", render_mode="rgb_array", width=64, height=64)
        if fast:
            env = FastMujocoRender(env)
        env.reset(seed=0)
        actions = np.random.default_rng(0).uniform(-1, 1, (40, 7))
        images, start = [], time.perf_counter()
        for action in actions:
            env.step(action)
            images.append(env.render())
        seconds = time.perf_counter() - start
        env.close()
        return np.stack(images).astype(np.float32), seconds

    default, default_s = frames(fast=False)
    fast, fast_s = frames(fast=True)
    # Same scene, same poses: only edges of round shapes and shading differ (measured 0.7 of 255).
    assert np.abs(default - fast).mean() < 2.0
    assert fast_s * 5 < default_s  # measured over 100x (benchmarks/README.md)


@pytest.mark.slow
def test_a_gymnasium_env_trains_resumes_and_evaluates(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--env", REACHER, "--out", str(out), *FLAGS]) == 0
    assert "success rate" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == REACHER
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success_source"] == "ground truth" and summary["labels"] > 0
    resume = ["train", "--resume", str(out), "--steps", "450", "--no-progress"]
    assert main(resume) == 2  # the run's module:Id is named again by the user, not the run
    assert "does not choose code to run" in capsys.readouterr().err
    assert main([*resume, "--env", REACHER]) == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 450
    assert main(["evaluate", str(out), "--episodes", "2", "--no-video", "--env", REACHER]) == 0
    assert "success rate" in capsys.readouterr().out


@pytest.mark.slow
def test_an_env_without_success_trains_with_answers_later_and_says_whose_verdict(tmp_path, capsys):
    goals = tmp_path / "goals"
    goals.mkdir()
    env = make_env("Reacher-v5", "image", 64)
    env.reset(seed=0)
    for i in range(3):
        image = env.step(env.action_space.sample())[0]
        cv2.imwrite(str(goals / f"goal_{i}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    out = tmp_path / "run"
    argv = ["train", "--env", "Reacher-v5", "--oracle", "later", "--goal-dir", str(goals)]
    assert main([*argv, "--out", str(out), *FLAGS]) == 0
    assert "the classifier's verdict" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success_source"] == "classifier" and summary["labels"] == 0
    store = LabelStore(out / "labels.sqlite", run="run", task="Reacher-v5")
    assert len(store.pending()) > 0  # frames wait for `reward-learning label`
    assert main(["evaluate", str(out), "--episodes", "2", "--no-video"]) == 0
    assert "the classifier's verdict" in capsys.readouterr().out


def test_an_image_observation_is_the_frame():
    class Camera(gym.Env):
        observation_space = gym.spaces.Dict(
            {
                "image": gym.spaces.Box(0, 255, (32, 32, 3), np.uint8),
                "joints": gym.spaces.Box(-1, 1, (2,), np.float32),
            }
        )
        action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

        def reset(self, *, seed=None, options=None):
            return {
                "image": np.full((32, 32, 3), 7, np.uint8),
                "joints": np.ones(2, np.float32),
            }, {}

    env = ImageTask(Camera(), "dict", 16)
    obs, _ = env.reset()
    assert obs["image"].shape == (16, 16, 3) and (obs["image"] == 7).all()
    np.testing.assert_array_equal(obs["state"], [1.0, 1.0])
