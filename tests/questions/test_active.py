"""The pool-based active learner of the uncertainty core."""

import numpy as np
import pytest

from reward_learning.questions.active import ActiveLearner


class _Threshold:
    """A 1-D estimator whose probabilities are fixed by a threshold it learns."""

    def fit(self, x, y):
        self.threshold = (x[y == 0].max() + x[y == 1].min()) / 2
        return self

    def predict_proba(self, x):
        p = 1 / (1 + np.exp(-(x.ravel() - self.threshold) * 5))
        return np.stack([1 - p, p], -1)


def test_active_learner_queries_the_boundary_and_refits():
    learner = ActiveLearner(_Threshold, np.array([0.0, 10.0]), np.array([0, 1]))
    pool = np.array([0.5, 4.9, 9.0, 5.2])
    indices, scores = learner.query(pool, 2)
    assert indices.tolist() == [1, 3]  # nearest the threshold of 5.0
    assert np.all(np.diff(scores) <= 0)
    learner.teach(pool[indices], np.array([0, 1]))
    assert learner.n_labels == 4
    assert learner.estimator.threshold == pytest.approx(5.05)


def test_learner_rejects_bald_without_stochastic_passes():
    with pytest.raises(TypeError, match="predict_proba_passes"):
        ActiveLearner(_Threshold, np.array([0.0, 1.0]), np.array([0, 1]), "bald")
