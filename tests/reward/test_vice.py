"""VICE's reward: the frame's reward, its forms, relabelling and the classifier's negatives."""

import numpy as np
import pytest

from reward_learning.frames import relabel
from reward_learning.reward.vice import (
    ClassifierReward,
    LearnedRewardWrapper,
    mix_negatives,
)
from reward_learning.tasks.make import make_env
from tests.conftest import stored_frames, tiny_run


@pytest.mark.parametrize(("share", "n_answered"), [(0.0, 2), (0.5, 96), (0.2, 24)])
def test_oracle_failures_make_up_their_share_of_negatives(share, n_answered):
    policy = np.zeros((96, 4, 4, 3), np.uint8)
    answered = np.full((2, 4, 4, 3), 255, np.uint8)
    mixed = mix_negatives(policy, answered, share)
    assert len(mixed) == 96 + n_answered
    assert (mixed[:, 0, 0, 0] == 255).sum() == n_answered


class Recorder:
    """A reward that remembers the images it was given."""

    def __init__(self):
        self.seen = []

    def __call__(self, images):
        self.seen.append(images.copy())
        return images.reshape(len(images), -1).mean(1).astype(np.float32)


def test_reward_reads_the_next_state_image():
    recorder = Recorder()
    env = LearnedRewardWrapper(make_env("push", image_size=48), recorder)
    env.reset(seed=0)
    obs, reward, *_ = env.step(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(recorder.seen[-1][0], obs["image"])
    assert reward == pytest.approx(obs["image"].mean(), rel=1e-5)


class FixedLogits:
    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype=np.float32)

    def logit(self, images):
        return self.logits[: len(images)]


def test_reward_forms_agree_far_from_the_goal_and_differ_inside_it():
    logits = [-40.0, -12.0, -6.0, 2.0, 6.0, 40.0]
    images = np.zeros((6, 8, 8, 3), np.uint8)
    log_p = ClassifierReward(FixedLogits(logits), form="log-p")(images)
    logit = ClassifierReward(FixedLogits(logits), form="logit", scale=2.0)(images)
    np.testing.assert_allclose(log_p[:3], [-10.0, -10.0, -6.0], atol=0.01)
    assert np.all(log_p <= 0) and log_p[4] - log_p[3] < 0.2  # flat past the boundary
    np.testing.assert_allclose(logit, [-20.0, -20.0, -12.0, 4.0, 12.0, 20.0])
    with pytest.raises(ValueError, match="form"):
        ClassifierReward(FixedLogits(logits), form="p")


def test_relabelling_follows_the_classifier(tmp_path):
    run = tiny_run(tmp_path / "vice", reward="vice")
    run.model.learn(250, callback=run._callbacks())
    buffer, callback = run.model.replay_buffer, run.classifier_callback
    n = buffer.size()
    np.testing.assert_allclose(buffer.rewards[:n, 0], run.reward_fn(stored_frames(run)), rtol=1e-5)
    stored = buffer.rewards[:n, 0].copy()
    version = run.classifier.version
    relabel(buffer, run.frames, run.reward_fn)  # same classifier: same rewards
    np.testing.assert_allclose(buffer.rewards[:n, 0], stored, rtol=1e-5)
    callback.update()  # the classifier changes: every stored reward is recomputed
    assert run.classifier.version == version + 1
    assert not np.allclose(buffer.rewards[:n, 0], stored)
    np.testing.assert_allclose(buffer.rewards[:n, 0], run.reward_fn(stored_frames(run)), rtol=1e-5)


def test_exploration_negatives_update_the_classifier_only_when_answers_arrive(tmp_path):
    exploration = {"policy_negatives": "exploration"}
    unanswered = tiny_run(
        tmp_path / "later" / "vice-raq", reward="vice-raq", oracle="later", **exploration
    )
    unanswered.train()
    assert unanswered.classifier.version == 1  # trained once, then nothing new to learn from
    answered = tiny_run(tmp_path / "simulated" / "vice-raq", reward="vice-raq", **exploration)
    answered.train()
    assert answered.labels_used > 0 and answered.classifier.version > 1
    vice = tiny_run(tmp_path / "vice" / "vice", reward="vice")
    vice.train()
    assert vice.classifier.version > 1  # VICE: every `classifier_every` steps
