"""A person answers while the robot learns: the queue behind ``--oracle human``.

Query rounds store their frames as pending (as ``--oracle later`` does) and training goes on.
:class:`LiveLabelWindow`, an SB3 callback on the main thread, polls an OpenCV window every few
env steps: it shows the oldest pending frame and how many wait; ``y``/``n`` commits the answer to
the label store at once and folds it into the classifier's data, so the next classifier update
uses it; ``s`` skips it. ``q`` or closing the window stops the questions: training continues on
the current classifier and the frames still pending stay in the store for
``reward-learning label``.
"""

from __future__ import annotations

import time
from collections import deque

import cv2
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning.labels import LabelStore, StoredLabel
from reward_learning.oracles import View, caption, close_window, frame_and_view, window_open
from reward_learning.queries import QueryCallback
from reward_learning.vice import ClassifierData

TITLE = "reward_learning: success? - training goes on"
KEYS = {ord("y"): 1, ord("n"): 0, ord("s"): None}


class LiveLabelWindow(BaseCallback):
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
        super().__init__()
        self.store = store
        self.data = data
        self.queries = queries
        self.every = every
        self.view = view
        self.queue: deque[StoredLabel] = deque()
        self.rounds_seen = -1
        self.shown: int | None = None
        self.open = True
        self.created = False  # the window exists (it opens with the first pending frame)
        self.seconds_answering = 0.0
        self.answered = 0
        self._shown_at = 0.0

    def _refresh(self) -> None:
        if self.queries.last_round != self.rounds_seen:
            self.rounds_seen = self.queries.last_round
            self.queue = deque(self.store.pending())

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

    def _answer(self, frame: StoredLabel, label: int | None) -> None:
        row = self.store.answer_pending(frame, label, "human")
        if label is not None:
            self.data.add(row, frame.image, bool(label))
            self.answered += 1
        self.seconds_answering += time.perf_counter() - self._shown_at
        self.queue.popleft()
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
            self._answer(self.queue[0], KEYS[key])
        self.logger.record("queries/pending", len(self.queue))
        self.logger.record("queries/answered_by_person", self.answered)
        self.logger.record("queries/seconds_answering", self.seconds_answering)
        return True

    def _on_training_end(self) -> None:
        if self.open:
            close_window(TITLE)
