"""The bundled MuJoCo tasks (envs/): Gymnasium's checks, seeding, success, rendering."""

import resource

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from benchmarks.drape_stability import stress
from envs.base import OBS_MODES
from reward_learning.errors import UserInputError
from reward_learning.tasks.make import make_env

TASKS = list(envs.ENV_IDS)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("obs_mode", OBS_MODES)
def test_check_env_in_every_mode(task, obs_mode, recwarn):
    env = make_env(task, obs_mode=obs_mode)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)
    env.close()
    ours = [
        w
        for w in recwarn
        if "gymnasium" in str(w.filename) or "stable_baselines3" in str(w.filename)
    ]
    assert not ours, [str(w.message) for w in ours]


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_same_trajectory(task):
    def rollout():
        env = make_env(task)
        obs, _ = env.reset(seed=7)
        states, images = [obs["state"]], [obs["image"]]
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            states.append(obs["state"])
            images.append(obs["image"])
        env.close()
        return np.array(states), np.array(images)

    (s1, i1), (s2, i2) = rollout(), rollout()
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(i1, i2)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("image_size", [48, 64, 84])
def test_observations_finite_and_inside_their_space(task, image_size):
    env = make_env(task, image_size=image_size)
    obs, info = env.reset(seed=0)
    for _ in range(30):
        assert env.observation_space.contains(obs)
        assert np.all(np.isfinite(obs["state"]))
        obs, reward, _, _, info = env.step(env.action_space.sample())
        assert reward == float(info["is_success"])
    assert obs["image"].shape == (image_size, image_size, 3)
    env.close()


@pytest.mark.parametrize("task", TASKS)
def test_success_states_succeed_and_resets_do_not(task):
    env = make_env(task)
    rng = np.random.default_rng(0)
    for seed in range(20):
        _, info = env.reset(seed=seed)
        assert not info["is_success"]
        env.unwrapped.set_random_success_state(rng)
        assert env.unwrapped._task_info()["is_success"]
    env.close()


@pytest.mark.parametrize("task", TASKS)
def test_image_changes_when_the_state_does(task):
    env = make_env(task)
    obs, _ = env.reset(seed=0)
    goal = env.unwrapped.set_random_success_state(np.random.default_rng(1))
    assert not np.array_equal(obs["state"], goal["state"])
    assert np.abs(obs["image"].astype(int) - goal["image"]).sum() > 1000
    env.close()


@pytest.mark.parametrize("task", TASKS)
def test_nan_actions_rejected_out_of_range_clipped(task):
    env = make_env(task, obs_mode="state")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not finite"):
        env.step(np.full(env.action_space.shape, np.nan))
    big, _, _, _, _ = env.step(np.full(env.action_space.shape, 50.0))
    env.reset(seed=0)
    one, _, _, _, _ = env.step(np.ones(env.action_space.shape))
    np.testing.assert_allclose(big, one)
    env.close()


@pytest.mark.parametrize("task", TASKS)
def test_scripted_controller_solves_the_task(task):
    env = make_env(task, obs_mode="state")
    successes = 0
    for seed in range(20):
        env.reset(seed=seed)
        truncated = False
        while not truncated:
            _, _, _, truncated, info = env.step(env.unwrapped.scripted_action())
        successes += info["is_success"]
    env.close()
    assert successes / 20 >= 0.9


def test_drape_cloth_stays_whole_and_outside_the_box_under_random_actions():
    result = stress(episodes=20)
    assert result["non_finite"] == 0
    assert result["max_stretch"] < 1.3, "the cloth tore or exploded"
    # A vertex is a 5 mm sphere: a centre 1 cm inside means the cloth went through the surface.
    assert result["box_penetration"] < 0.01


def test_drape_success_needs_both_sides():
    env = make_env("drape", obs_mode="state")
    env.reset(seed=0)
    drape = env.unwrapped
    drape.set_random_success_state(np.random.default_rng(0))
    info = drape._task_info()
    assert info["rows_on_top"] and info["rows_near_side"] and info["rows_far_side"]
    # Lift the gripper: the cloth still lies over the top and down the near side, but no
    # longer hangs on the far side.
    for _ in range(10):
        _, _, _, _, info = env.step(np.array([0.0, 1.0]))
    assert info["rows_on_top"] and info["rows_near_side"]
    assert not info["is_success"] and info["rows_far_side"] == 0
    env.close()


def test_two_hundred_envs_do_not_leak():
    def cycle(n):
        for _ in range(n):
            env = make_env("push")
            env.reset(seed=0)
            env.step(env.action_space.sample())
            env.render()
            env.close()

    cycle(20)  # warm up allocators and the GL driver
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cycle(200)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50, f"peak memory grew {grown_mb:.0f} MB over 200 envs"


def test_render_gives_the_video_view():
    env = make_env("push", render_mode="rgb_array", render_size=128)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (128, 128, 3) and frame.std() > 5
    env.close()


def test_unknown_task_is_one_line():
    with pytest.raises(UserInputError, match="pussh` doesn't exist"):
        make_env("pussh")


def test_registered_ids_and_time_limit():
    spec = gym.spec(envs.ENV_IDS["push"])
    assert spec.max_episode_steps == 100
