"""RAQ: every K env steps, ask an oracle about a few of the policy's recent frames.

Singh et al., RSS 2019: the paper asks about the single frame with the highest predicted
success since the last query (``most-likely-success``); the uncertainty core's strategies are
the alternatives. Near-duplicate frames are never asked twice in one round, a frame already
asked in this run is never asked again, and each answer is committed to the label store
before the classifier sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning.frames import FrameStore
from reward_learning.questions import uncertainty
from reward_learning.questions.labels import LabelStore, image_hash, stored_answers
from reward_learning.questions.oracles import Oracle, Query
from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.vice import ClassifierData

_EMBED_SIZE = 16  # pixels: frames are compared for near-duplicates at 16x16
DUPLICATE_DISTANCE = 1.0  # Euclidean, over 16x16x3 pixels in [0, 1] (an RMS difference of 0.036)
MC_PASSES = 10  # dropout passes behind BALD's scores
MAX_CANDIDATES = 4096
"""Frames a round chooses from at most, the latest: a round after a long stretch without one
(a long random-action phase) would otherwise copy and score every frame since (691 MB of 48 px
frames after 100k steps)."""

ScoreFn = Callable[[SuccessClassifier, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""A query strategy: ``(classifier, frames uint8 (N, H, W, 3))`` to ``(scores, P(success))``,
each float ``(N,)``; the highest scores are asked first."""


def most_likely_success(
    classifier: SuccessClassifier, images: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's: the frames the classifier finds most like success."""
    probability = classifier.predict_proba(images)
    return probability.astype(np.float64), probability


def _uncertainty(name: str) -> ScoreFn:
    def score(classifier: SuccessClassifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probability = classifier.predict_proba(images)
        return uncertainty.score(name, probability), probability

    score.__doc__ = f"The uncertainty core's {name} of P(success)."
    return score


def bald(classifier: SuccessClassifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BALD over MC-dropout passes of the classifier."""
    passes = classifier.predict_proba_passes(images, MC_PASSES)
    return uncertainty.score("bald", passes), classifier.predict_proba(images)


least_confident = _uncertainty("least-confident")
entropy = _uncertainty("entropy")


def embed_frames(images: np.ndarray) -> np.ndarray:
    """Frames uint8 ``(N, H, W, 3)`` to float32 ``(N, 768)``: 16x16 thumbnails in [0, 1]."""
    small = [
        cv2.resize(img, (_EMBED_SIZE, _EMBED_SIZE), interpolation=cv2.INTER_AREA) for img in images
    ]
    return np.asarray(small, dtype=np.float32).reshape(len(images), -1) / 255


class QueryCallback(BaseCallback):
    """Asks ``per_round`` frames every ``every`` env steps until ``budget`` labels are spent.

    Candidates are the frames the policy produced since the previous round, read from the
    frame store by key; the oracle's ground truth (if simulated) is looked up by that key and
    nothing else.

    Args:
        classifier: scores the candidates.
        frames: the training env's frames.
        data: where answers go, after the store has them.
        oracle: who answers.
        store: the durable label store.
        score: the query strategy (one of ``questions.QUERY_STRATEGIES``, or any :data:`ScoreFn`).
        start: first round at this env step.
        every: env steps between rounds.
        per_round: frames asked per round.
        budget: total labels (answers that are not skips) for the run.
        first_key: key of the first candidate frame (non-zero when a run resumes).
    """

    def __init__(
        self,
        classifier: SuccessClassifier,
        frames: FrameStore,
        data: ClassifierData,
        oracle: Oracle,
        store: LabelStore,
        score: ScoreFn = most_likely_success,
        start: int = 1000,
        every: int = 1000,
        per_round: int = 1,
        budget: int = 40,
        first_key: int = 0,
    ) -> None:
        super().__init__()
        self.classifier = classifier
        self.frames = frames
        self.data = data
        self.oracle = oracle
        self.store = store
        self.score = score
        self.start = start
        self.every = every
        self.per_round = per_round
        self.budget = budget
        self.last_key = first_key
        self.last_round = 0
        self.seconds = 0.0
        self.asked = 0
        self.true_positives = 0

    @property
    def labels_used(self) -> int:
        """Answers in the store that are not skips (earlier sessions of the run included)."""
        return self.data.n_answers

    def state_dict(self) -> dict[str, int]:
        """Counters a resumed run continues from (JSON-able)."""
        return {
            "last_round": self.last_round,
            "asked": self.asked,
            "true_positives": self.true_positives,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from :meth:`state_dict`."""
        self.last_round, self.asked = state["last_round"], state["asked"]
        self.true_positives = state["true_positives"]

    def stop(self) -> None:
        """Ask nothing more in this session (the person closed the window)."""
        self.budget = self.labels_used

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        # After SB3 stored the step's transition (see ClassifierCallback._on_rollout_end).
        t = self.num_timesteps
        if t < self.start or t < self.last_round + self.every or self.labels_used >= self.budget:
            return
        start = time.perf_counter()
        self.ask_round()
        self.last_round = t
        self.seconds += time.perf_counter() - start

    def ask_round(self) -> None:
        """Ask about frames since the last round, store each answer, then use it.

        The round chooses among the latest ``MAX_CANDIDATES`` of those frames at most.
        """
        keys = np.arange(max(self.last_key, self.frames.size - MAX_CANDIDATES), self.frames.size)
        self.last_key = self.frames.size
        images = self.frames.get(keys)
        asked = self.store.asked_hashes()
        fresh = np.array([image_hash(img) not in asked for img in images], dtype=bool)
        keys, images = keys[fresh], images[fresh]
        if len(keys) == 0:
            return
        scores, probability = self.score(self.classifier, images)
        n = min(self.per_round, self.budget - self.labels_used)
        picks, picked_scores = uncertainty.select_diverse(
            scores, embed_frames(images), n, DUPLICATE_DISTANCE
        )
        query = Query(
            images[picks], keys[picks], probability[picks], picked_scores,
            remaining=self.budget - self.labels_used,
            scenes=[self.frames.scene(int(k)) for k in keys[picks]],
        )  # fmt: skip
        for answer, row in stored_answers(self.oracle, query, self.store):
            if answer.undo:
                self.true_positives -= row in self.data.positives
                self.asked -= 1
                self.data.remove(row)
                continue
            self.asked += 1
            if answer.label is not None:
                self.data.add(row, query.images[answer.position], bool(answer.label))
                self.true_positives += int(answer.label == 1)
        self.logger.record("queries/asked", self.asked)
        self.logger.record("queries/labels_used", self.labels_used)
        self.logger.record("queries/precision", self.true_positives / max(self.asked, 1))
