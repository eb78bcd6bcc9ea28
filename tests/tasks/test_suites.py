"""Meta-World and Fetch beside this package (the extras, `make test-suites`), and what a
venv without them, or with their MuJoCo 3.3, says in one line."""

import importlib.util
import json

import numpy as np
import pytest

from reward_learning.cli import main
from reward_learning.errors import UserInputError
from reward_learning.tasks import make
from tests.conftest import TINY
from tests.run.test_directory import one_line_error

HAS_SUITES = all(importlib.util.find_spec(m) for m in ("metaworld", "gymnasium_robotics"))
needs_suites = pytest.mark.skipif(not HAS_SUITES, reason="needs the metaworld and robotics extras")
ENV = "Meta-World/MT1"
DRAWER = json.dumps({"env_name": "drawer-close-v3", "max_episode_steps": 100})


@pytest.mark.skipif(importlib.util.find_spec("metaworld") is not None, reason="metaworld is here")
def test_without_the_extra_the_error_says_what_to_install(tmp_path, capsys):
    code = main(["train", "--env", ENV, "--env-kwargs", DRAWER, "--out", str(tmp_path / "run")])
    assert "pip install 'reward-learning[metaworld]'" in one_line_error(capsys, code)
    assert not (tmp_path / "run").exists()


def test_a_task_whose_scene_needs_a_newer_mujoco_refuses_in_one_line(monkeypatch):
    monkeypatch.setattr(make, "version", lambda package: "3.3.0")
    with pytest.raises(
        UserInputError, match=r"drape needs MuJoCo >= 4.0 and this environment has 3.3.0"
    ):
        make.make_env("drape")
    make.check_mujoco("push")  # loads on 3.3


@needs_suites
def test_a_meta_world_task_steps_renders_and_reports_success():
    env = make.make_env(ENV, "dict", 48, DRAWER)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (48, 48, 3) and obs["state"].shape == (39,)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert reward == float(info["is_success"]) == float(info["success"])
    traits = make.task_traits(ENV, DRAWER)
    assert traits.has_success and traits.can_pose_success and traits.proprio == (0, 1, 2, 3)


@needs_suites
def test_the_corner_camera_is_drawn_upright():
    import gymnasium as gym

    env = make.make_env(ENV, "image", 64, DRAWER)
    frame, _ = env.reset(seed=0)
    raw = gym.make(ENV, env_name="drawer-close-v3", render_mode="rgb_array", width=64, height=64,
                   camera_name="corner")  # fmt: skip
    raw.reset(seed=0)
    upside_down = raw.render()
    # the grey floor, at the bottom of Meta-World's own frame, is the sky of ours
    assert np.abs(frame[:8].astype(int) - upside_down[-8:][::-1]).mean() < 10


@needs_suites
def test_goal_images_come_from_the_scripted_policy(tmp_path):
    assert main(["collect-goals", "--env", ENV, "--env-kwargs", DRAWER, "-n", "3",
                 "--image-size", "48", "--out", str(tmp_path)]) == 0  # fmt: skip
    images = np.load(tmp_path / "goals.npz")["images"]
    # MT1 draws each episode's variation from 50: two of three may be the same one
    assert images.shape == (3, 48, 48, 3) and len({image.tobytes() for image in images}) >= 2


@needs_suites
def test_a_meta_world_task_trains_with_the_default_learner(tmp_path):
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in TINY.items()
             if key not in ("progress", "video")]  # fmt: skip
    out = tmp_path / "run"
    argv = ["train", "--env", ENV, "--env-kwargs", DRAWER, "--out", str(out), *flags]
    assert main([*argv, "--no-progress", "--no-video"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == TINY["steps"] and summary["success_source"] == "ground truth"
    assert summary["labels"] > 0  # the simulated oracle read Meta-World's success


@needs_suites
def test_push_trains_beside_meta_world(tmp_path):
    from tests.conftest import tiny_run

    assert tiny_run(tmp_path / "run").train()["steps"] == TINY["steps"]


@needs_suites
def test_fetch_reach_poses_its_goal_and_trains(tmp_path):
    traits = make.task_traits("FetchReach-v4")
    assert traits.has_success and traits.can_pose_success and traits.proprio == (6, 7, 8)
    task = make.make_env("FetchReach-v4").unwrapped
    assert task.model.site_size[0, 0] == task.distance_threshold  # the goal's marker, target0
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in TINY.items()
             if key not in ("progress", "video")]  # fmt: skip
    out = tmp_path / "run"
    argv = ["train", "--env", "FetchReach-v4", "--out", str(out), *flags, "--no-progress"]
    assert main([*argv, "--no-video", "--policy-input", "pixels+proprio"]) == 0
    assert json.loads((out / "summary.json").read_text())["success_source"] == "ground truth"
