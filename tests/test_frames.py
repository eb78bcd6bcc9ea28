"""The frame store and the replay buffers that name frames by key."""

import numpy as np
import pytest

from reward_learning.frames import FrameRecorder, FrameStore, relabel
from reward_learning.run import settings, training
from reward_learning.tasks.make import make_env
from tests.conftest import tiny_run


def test_policy_batches_carry_no_images_when_the_policy_reads_state(tmp_path):
    run = tiny_run(tmp_path / "vice", reward="vice")
    run.model.learn(120)
    batch = run.model.replay_buffer.sample(8)
    assert batch.observations.shape == batch.next_observations.shape == (8, 4)
    assert run.frames.size == 120 and run.frames.get(slice(0, 120)).any()  # the reward's frames


def frame(value, size=8):
    return np.full((size, size, 3), value, np.uint8)


def test_store_keys_follow_arrival_and_survive_growth_and_a_round_trip(tmp_path):
    store = FrameStore((8, 8, 3), capacity=2)
    keys = [store.add(frame(v)) for v in range(5)]
    assert keys == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(store.get(np.array([4, 0]))[:, 0, 0, 0], [4, 0])
    store.save(tmp_path / "frames.npy")
    loaded = FrameStore.load(tmp_path / "frames.npy")
    assert loaded.size == 5 and loaded.add(frame(9)) == 5
    np.testing.assert_array_equal(loaded.get(slice(0, 6))[:, 0, 0, 0], [0, 1, 2, 3, 4, 9])
    with pytest.raises(AssertionError, match="unknown frame key"):
        loaded.get(np.array([6]))


def test_scene_states_are_kept_beside_their_frames_through_growth_and_a_round_trip(tmp_path):
    store = FrameStore((8, 8, 3), capacity=2)
    store.add(frame(0))  # a frame with no scene state (an env that is not MuJoCo)
    for v in range(1, 5):
        store.add(frame(v), np.full(3, v, np.float32))
    assert store.scene(0) is None
    np.testing.assert_array_equal(store.scene(4), [4, 4, 4])
    store.save(tmp_path / "frames.npy")
    loaded = FrameStore.load(tmp_path / "frames.npy")
    loaded.add(frame(5), np.full(3, 5, np.float32))
    assert loaded.scene(0) is None
    assert [loaded.scene(k)[0] for k in range(1, 6)] == [1, 2, 3, 4, 5]
    (tmp_path / "scenes.npy").unlink()  # a checkpoint written before scene states were kept
    assert FrameStore.load(tmp_path / "frames.npy").scene(3) is None


def test_recorder_files_the_image_reached_and_names_it():
    store = FrameStore((48, 48, 3))
    env = FrameRecorder(make_env("push", image_size=48), store)
    env.reset(seed=0)
    for expected_key in range(3):
        obs, _, _, _, info = env.step(env.action_space.sample())
        assert info["frame_key"] == expected_key
        np.testing.assert_array_equal(store.get(np.array([expected_key]))[0], obs["image"])


class BrightnessReward:
    """Reward = mean pixel value, except for frames brighter than ``changed_above``."""

    def __init__(self, changed_above=256):
        self.changed_above = changed_above

    def __call__(self, images):
        mean = images.reshape(len(images), -1).mean(1).astype(np.float32)
        return np.where(mean > self.changed_above, -mean, mean).astype(np.float32)


def test_relabelling_changes_exactly_the_rewards_whose_frames_score_differently(tmp_path):
    run = tiny_run(tmp_path / "run", reward="vice")
    run.model.learn(200)
    buffer = run.model.replay_buffer
    relabel(buffer, run.frames, BrightnessReward())
    before = buffer.rewards[: buffer.size(), 0].copy()
    threshold = float(np.median(before))
    relabel(buffer, run.frames, BrightnessReward(changed_above=threshold))
    after = buffer.rewards[: buffer.size(), 0]
    changed = before > threshold
    assert 0 < changed.sum() < len(changed)
    np.testing.assert_array_equal(after[~changed], before[~changed])
    np.testing.assert_array_equal(after[changed], -before[changed])


def test_relabelling_reads_each_slots_own_frame_after_the_buffer_wraps(tmp_path):
    run = tiny_run(tmp_path / "run", reward="vice")
    run.model.replay_buffer = type(run.model.replay_buffer)(
        50, run.model.observation_space, run.model.action_space, device="cpu"
    )
    run.model.learn(120)
    buffer = run.model.replay_buffer
    assert buffer.full and run.frames.size == 120
    keys = buffer.stored_frame_keys()
    assert sorted(keys.tolist()) == list(range(70, 120))  # the newest 50 transitions
    relabel(buffer, run.frames, BrightnessReward())
    np.testing.assert_allclose(
        buffer.rewards[:50, 0], BrightnessReward()(run.frames.get(keys)), rtol=1e-6
    )


@pytest.mark.parametrize(("algo", "critic"), [("sac", "mlp"), ("tqc", "droq"), ("sac", "droq")])
def test_resumed_runs_continue_frame_keys_without_reuse(tmp_path, algo, critic):
    first = tiny_run(tmp_path / "run", reward="vice-raq", steps=200, algo=algo, critic=critic)
    first.train()
    asked = {a.key for a in first.store.answers(include_skipped=True)}
    assert first.frames.size == 200 and asked
    config = settings.load_run_config(tmp_path / "run")
    config.steps = 400
    second = training.TrainingRun(config, resume=True)
    assert second.frames.size == 200
    second.train()
    assert second.frames.size == 400
    keys = second.model.replay_buffer.stored_frame_keys()
    assert sorted(keys.tolist()) == list(range(400))
    answers = second.store.answers(include_skipped=True)
    later = [a.key for a in answers if a.key not in asked]
    assert later and min(later) >= 200  # the new session asks only about its own frames
    assert len({a.key for a in answers}) == len(answers)  # no frame asked twice


def test_n_step_returns_sum_the_relabelled_rewards(tmp_path):
    run = tiny_run(tmp_path / "run", reward="vice", n_steps=3, gamma=0.5)
    run.model.learn(150)
    buffer = run.model.replay_buffer
    relabel(buffer, run.frames, lambda images: np.ones(len(images), np.float32))
    batch = buffer.sample(64)
    # Three rewards of 1 (or fewer at an episode's end): 1 + 0.5 + 0.25.
    assert batch.rewards.max().item() == pytest.approx(1.75)
    assert batch.rewards.min().item() >= 1.0


def test_n_step_returns_need_a_state_policy(tmp_path):
    from reward_learning.errors import UserInputError

    with pytest.raises(UserInputError, match="n-step returns need --policy-input state"):
        tiny_run(tmp_path / "run", reward="vice", n_steps=3, policy_input="pixels+proprio")
