"""The success classifier: what it separates, its checkpoints, its input checks."""

import numpy as np
import pytest
import torch

from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.goals import render_goals
from tests.conftest import reset_images


def test_classifier_separates_goals_from_reset_frames():
    goals, starts = render_goals("push", 60, 48, seed=0), reset_images(60)
    classifier = SuccessClassifier(seed=0, device="cpu")
    classifier.train_steps(goals[:40], starts[:40], steps=150, batch_size=32)
    p_goal, p_start = classifier.predict_proba(goals[40:]), classifier.predict_proba(starts[40:])
    assert p_goal.mean() > 0.8 and p_start.mean() < 0.2
    assert classifier.predict_proba_passes(goals[40:], 4).shape == (4, 20)


def test_classifier_checkpoint_round_trip(tmp_path):
    images = reset_images(4)
    a = SuccessClassifier(seed=0, device="cpu")
    a.train_steps(images, images[::-1], steps=2, batch_size=4)
    a.save(tmp_path / "c.pt")
    b = SuccessClassifier(seed=1, device="cpu")
    b.load(tmp_path / "c.pt")
    np.testing.assert_allclose(a.logit(images), b.logit(images))
    assert b.version == a.version == 1


def test_reinitialized_classifier_retrains_like_a_fresh_one():
    images = reset_images(8)
    positives, negatives = images[:4], images[4:]

    def trained(classifier):
        torch.manual_seed(0)  # dropout draws from torch's global stream
        classifier.train_steps(positives, negatives, steps=3, batch_size=4)
        return classifier.logit(images)

    reused = SuccessClassifier(seed=3, device="cpu")
    first = trained(reused)
    trained(reused)  # warm retraining moves on from there
    reused.reinitialize()
    again = trained(reused)
    fresh = trained(SuccessClassifier(seed=3, device="cpu"))
    np.testing.assert_allclose(again, fresh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first, fresh, rtol=1e-5, atol=1e-6)
    assert reused.version == 3


def test_classifier_rejects_wrong_images():
    with pytest.raises(ValueError, match=r"expected uint8 \(N, H, W, 3\)"):
        SuccessClassifier(device="cpu").logit(np.zeros((2, 3, 48, 48), np.uint8))
