"""Query rounds: strategies order frames, rounds ask the top ones once, answers are stored before use."""

import numpy as np
import pytest

from reward_learning.questions import QUERY_STRATEGIES
from reward_learning.questions.labels import LabelStore
from reward_learning.questions.oracles import Answer
from reward_learning.questions.queries import QueryCallback, embed_frames
from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.vice import (
    ClassifierData,
)
from tests.conftest import reset_images, stored_frames, tiny_run


def test_success_scores_order_by_strategy():
    classifier = SuccessClassifier(seed=0, device="cpu")
    images = reset_images(6)
    scores, p = QUERY_STRATEGIES.get("most-likely-success")(classifier, images)
    np.testing.assert_allclose(scores, p)
    scores, p = QUERY_STRATEGIES.get("least-confident")(classifier, images)
    np.testing.assert_allclose(scores, 1 - np.maximum(p, 1 - p), rtol=1e-5)
    scores, p = QUERY_STRATEGIES.get("bald")(classifier, images)
    assert scores.shape == p.shape == (6,) and (scores >= 0).all()
    assert embed_frames(images).shape == (6, 768)


class FixedProbability:
    def __init__(self, probability_of):
        self.probability_of = probability_of
        self.version = 1

    def predict_proba(self, images):
        return np.array([self.probability_of(img) for img in images], dtype=np.float32)


class ScriptedOracle:
    source = "simulated"

    def __init__(self, answers):
        self.answers = answers
        self.queries = []

    def ask(self, query):
        self.queries.append(query)
        yield from self.answers(query)


def test_query_round_asks_the_top_frames_without_duplicates(tmp_path):
    run = tiny_run(tmp_path / "vice-raq", reward="vice-raq")
    run.model.learn(150)  # fill the frame store
    frames = stored_frames(run)
    brightness = {img.tobytes(): float(img.mean()) for img in frames}
    classifier = FixedProbability(lambda img: brightness[img.tobytes()] / 255)
    oracle = ScriptedOracle(lambda q: (Answer(i, 0) for i in range(len(q.images))))
    store = LabelStore(tmp_path / "labels.sqlite", "t", "push")
    data = ClassifierData(run.goals)
    callback = QueryCallback(classifier, run.frames, data, oracle, store, per_round=3, budget=10)
    callback.init_callback(run.model)
    callback.ask_round()
    (query,) = oracle.queries
    assert len(query.keys) == 3 and len(set(query.keys.tolist())) == 3
    assert len({img.tobytes() for img in query.images}) == 3
    distinct = sorted(set(brightness.values()), reverse=True)
    assert query.probabilities[0] == pytest.approx(distinct[0] / 255)  # the top frame comes first
    assert np.all(np.diff(query.scores) <= 0)
    assert len(store) == 3 and len(data.negatives) == 3
    # A second round over the same frames asks nothing already asked.
    callback.last_key = 0
    callback.ask_round()
    assert not set(oracle.queries[1].keys.tolist()) & set(query.keys.tolist())


def test_answers_are_stored_before_they_are_used_and_undo_retracts(tmp_path):
    run = tiny_run(tmp_path / "vice-raq", reward="vice-raq")
    run.model.learn(150)
    store = LabelStore(tmp_path / "labels.sqlite", "t", "push")
    data = ClassifierData(run.goals)

    def answers(query):
        yield Answer(0, 1)
        assert len(store) == 1 and len(data.positives) == 1  # stored, then used
        yield Answer(1, 0)
        yield Answer(1, None, undo=True)
        yield Answer(2, None)  # skip

    callback = QueryCallback(
        run.classifier, run.frames, data, ScriptedOracle(answers), store, per_round=3, budget=10
    )
    callback.init_callback(run.model)
    callback.ask_round()
    assert [a.label for a in store.answers()] == [1]
    assert len(store.answers(include_skipped=True)) == 2
    assert len(data.positives) == 1 and len(data.negatives) == 0


def test_a_round_after_a_long_stretch_chooses_among_the_latest_frames_only(tmp_path, monkeypatch):
    from reward_learning.questions import queries

    monkeypatch.setattr(queries, "MAX_CANDIDATES", 40)
    run = tiny_run(tmp_path / "vice-raq", reward="vice-raq")
    run.model.learn(150)  # 150 frames since the callback's first key
    scored = []

    def record(classifier, images):
        scored.append(len(images))
        return np.zeros(len(images)), np.full(len(images), 0.5)

    oracle = ScriptedOracle(lambda q: (Answer(i, 0) for i in range(len(q.images))))
    store = LabelStore(tmp_path / "labels.sqlite", "t", "push")
    callback = QueryCallback(
        FixedProbability(lambda img: 0.5), run.frames, ClassifierData(run.goals), oracle, store,
        score=record, per_round=2, budget=10,
    )  # fmt: skip
    callback.init_callback(run.model)
    callback.ask_round()
    assert 0 < scored[0] <= 40 and oracle.queries[0].keys.min() >= run.frames.size - 40
