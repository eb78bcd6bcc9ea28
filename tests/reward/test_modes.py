"""Reward modes and query strategies are components: registered from outside, they train."""

import numpy as np
import pytest

from reward_learning.errors import UserInputError
from reward_learning.questions import QUERY_STRATEGIES
from reward_learning.reward import REWARD_MODES
from reward_learning.reward.modes import ClassifierUpdates, RewardMode
from reward_learning.run import settings, training
from tests.conftest import TINY


def constant_mode(config):
    """A reward of 1 for every frame; the classifier still learns and the run still asks."""
    return RewardMode(
        lambda classifier, goals: lambda images: np.ones(len(images), np.float32),
        ClassifierUpdates(config.classifier_every, "replay"),
        asks=True,
    )


asked_with = []


def darkest_first(classifier, images):
    """Asks about the darkest frames (a strategy no one would ship; it is easy to check)."""
    asked_with.append(len(images))
    probability = classifier.predict_proba(images)
    return -images.reshape(len(images), -1).mean(1).astype(np.float64), probability


@pytest.fixture(scope="module", autouse=True)
def registered():
    REWARD_MODES.register("constant", constant_mode, "1 everywhere (a test)")
    QUERY_STRATEGIES.register("darkest", darkest_first, "the darkest frames (a test)")
    yield
    REWARD_MODES.unregister("constant")
    QUERY_STRATEGIES.unregister("darkest")


@pytest.mark.slow
def test_a_reward_mode_and_a_strategy_registered_outside_the_package_train(tmp_path):
    config = settings.task_config(
        "push", reward="constant", query_strategy="darkest", out=str(tmp_path), **TINY
    )
    run = training.TrainingRun(config)
    summary = run.train()
    assert summary["steps"] == TINY["steps"] and summary["labels"] > 0
    assert asked_with, "the registered strategy chose the questions"
    keys = run.model.replay_buffer.stored_frame_keys()
    assert (run.model.replay_buffer.rewards[: len(keys), 0] == 1).all()  # relabelled by the mode


def test_a_registered_name_is_a_choice_and_an_unknown_one_is_one_line(tmp_path):
    assert "constant" in settings.train_choices()["reward"]
    bad = settings.task_config("push", reward="constnat", out=str(tmp_path))
    with pytest.raises(UserInputError, match="--reward 'constnat': expected one of .*constant"):
        settings.validate(bad)


def test_the_bundled_modes_say_what_the_run_does():
    config = settings.TrainConfig()
    assert REWARD_MODES.build("vice-raq", config).asks
    assert REWARD_MODES.build("vice", config).classifier_updates.policy_negatives == "replay"
    assert REWARD_MODES.build("classifier", config).classifier_updates.every is None
    assert REWARD_MODES.build("sparse", config).make_reward(None, None) is None
    assert REWARD_MODES.build("pixel-l2", config).classifier_updates is None
