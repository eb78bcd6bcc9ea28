"""Answers that arrive while the robot learns: the queue behind ``--oracle human``.

Query rounds store their frames as pending (as ``--oracle later`` does) and training goes on.
:class:`LiveLabelWindow`, an SB3 callback on the main thread, polls an OpenCV window every few
env steps: it shows the oldest pending frame and how many wait; ``y``/``n`` commits the answer to
the label store at once and folds it into the classifier's data, so the next classifier update
uses it; ``s`` skips it. ``q`` or closing the window stops the questions: training continues on
the current classifier and the frames still pending stay in the store for
``reward-learning label``. :class:`DelayedAnswers` is a simulated person working through the
same queue a fixed number of env steps behind (``--oracle-delay``), to measure what answering
late costs.
"""

from __future__ import annotations

import time
from collections import deque

import cv2
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning.questions.labels import LabelStore, StoredLabel
from reward_learning.questions.oracles import (
    Query,
    SimulatedOracle,
    View,
    caption,
    close_window,
    frame_and_view,
    window_open,
)
from reward_learning.questions.queries import QueryCallback
from reward_learning.reward.vice import ClassifierData

TITLE = "reward_learning: success? - training goes on"
KEYS = {ord("y"): 1, ord("n"): 0, ord("s"): None}


class PendingAnswers(BaseCallback):
    """The pending frames, oldest first, and the one way an answer to one is committed.

    Args:
        store: where answers are committed (and where the pending frames are).
        data: the classifier's positives and negatives; answers are folded in here.
        queries: the query callback whose rounds fill the queue.
        every: env steps between polls.
    """

    def __init__(
        self, store: LabelStore, data: ClassifierData, queries: QueryCallback, every: int
    ) -> None:
        super().__init__()
        self.store = store
        self.data = data
        self.queries = queries
        self.every = every
        self.queue: deque[StoredLabel] = deque()
        self.rounds_seen = -1
        self.seconds_answering = 0.0  # a person's, in a window (a simulated one spends none)

    def _refresh(self) -> None:
        if self.queries.last_round != self.rounds_seen:
            self.rounds_seen = self.queries.last_round
            self.queue = deque(self.store.pending())

    def _answer(self, frame: StoredLabel, label: int | None, source: str) -> None:
        """Commit the answer to the oldest pending frame (``None``: a skip), then use it."""
        row = self.store.answer_pending(frame, label, source)
        if label is not None:
            self.data.add(row, frame.image, bool(label))
        self.queue.popleft()

    def _on_step(self) -> bool:
        return True


class DelayedAnswers(PendingAnswers):
    """A simulated person who answers each pending frame ``delay`` env steps after its round.

    Answers stop once the run's label budget is spent, as the query rounds do.

    Args:
        oracle: the simulated oracle that gives the answers (ground truth, by frame key).
        delay: env steps between a query round and the answers to its frames.
    """

    def __init__(
        self,
        store: LabelStore,
        data: ClassifierData,
        queries: QueryCallback,
        oracle: SimulatedOracle,
        delay: int,
        every: int = 4,
    ) -> None:
        super().__init__(store, data, queries, every)
        self.oracle = oracle
        self.delay = delay
        self.asked_at: dict[int, int] = {}  # pending row id -> env step of its round

    def _on_step(self) -> bool:
        if self.num_timesteps % self.every:
            return True
        self._refresh()
        for frame in self.queue:
            self.asked_at.setdefault(frame.id, self.queries.last_round)
        while (
            self.queue
            and self.asked_at[self.queue[0].id] + self.delay <= self.num_timesteps
            and self.queries.labels_used < self.queries.budget
        ):
            frame = self.queue[0]
            question = Query(frame.image[None], np.array([frame.key]), np.zeros(1), np.zeros(1), 1)
            (answer,) = self.oracle.ask(question)
            self._answer(frame, answer.label, self.oracle.source)
        self.logger.record("queries/pending", len(self.queue))
        return True


class LiveLabelWindow(PendingAnswers):
    """Polls the labelling window every ``every`` env steps; never blocks training.

    Args:
        store: where answers are committed (and where the pending frames are).
        data: the classifier's positives and negatives; answers are folded in here.
        queries: the query callback whose rounds fill the queue; stopped on ``q``.
        every: env steps between polls (a poll costs about a millisecond).
        view: draws a frame's scene state large beside it (a ``SceneView``).
    """

    def __init__(
        self,
        store: LabelStore,
        data: ClassifierData,
        queries: QueryCallback,
        every: int = 4,
        view: View | None = None,
    ) -> None:
        super().__init__(store, data, queries, every)
        self.view = view
        self.shown: int | None = None
        self.open = True
        self.created = False  # the window exists (it opens with the first pending frame)
        self.answered = 0
        self._shown_at = 0.0

    def _show(self, frame: StoredLabel) -> None:
        probability = "" if frame.probability is None else f"P(success) {frame.probability:.2f}   "
        score = "" if frame.score is None else f"score {frame.score:.3f}"
        canvas = caption(
            frame_and_view(frame.image, frame.scene, self.view),
            [
                "Is this a success?  [y/n] answer  [s] skip  [q] stop asking",
                probability + score,
                f"{len(self.queue)} waiting   step {self.num_timesteps}   (training goes on)",
            ],
        )
        cv2.imshow(TITLE, canvas)
        if self.shown != frame.id:
            self.shown, self._shown_at = frame.id, time.perf_counter()

    def _stop(self) -> None:
        self.open = False
        self.queries.stop()
        close_window(TITLE)

    def _answer_shown(self, label: int | None) -> None:
        self._answer(self.queue[0], label, "human")
        self.answered += label is not None
        self.seconds_answering += time.perf_counter() - self._shown_at
        self.shown = None

    def _on_step(self) -> bool:
        if not self.open or self.num_timesteps % self.every:
            return True
        if self.created and not window_open(TITLE):
            self._stop()
            return True
        self._refresh()
        if self.queue:
            self._show(self.queue[0])
        elif not self.created:
            return True  # the window opens with the first pending frame
        elif self.shown is not None:
            cv2.imshow(TITLE, caption(np.zeros((96, 384, 3), np.uint8), ["nothing to answer yet"]))
            self.shown = None
        self.created = True
        pressed = cv2.waitKey(1)
        key = -1 if pressed == -1 else pressed & 0xFF
        if key == ord("q"):
            self._stop()
        elif key in KEYS and self.queue:
            self._answer_shown(KEYS[key])
        self.logger.record("queries/pending", len(self.queue))
        self.logger.record("queries/answered_by_person", self.answered)
        self.logger.record("queries/seconds_answering", self.seconds_answering)
        return True

    def _on_training_end(self) -> None:
        if self.open:
            close_window(TITLE)
