"""``reward-learning labels review``: a person looks over the answers and flips the wrong ones.

The answered frames are shown 9 at a time, each framed green (success) or red (failure) with
its number. Keys: ``1``-``9`` flip that frame's answer, ``n``/``p`` the next or previous nine,
``q`` (or closing the window) stops. A flip is committed at once as a correction, a new row
that supersedes the old one (:meth:`LabelStore.correct`); nothing is deleted, and a resumed run
trains on the corrected labels.
"""

from __future__ import annotations

import cv2
import numpy as np

from reward_learning.questions.labels import LabelStore, StoredLabel
from reward_learning.questions.oracles import (
    WINDOW_PIXELS,
    caption,
    close_window,
    enlarge,
    require_display,
    window_open,
)

TITLE = "reward_learning: review"
PAGE = 9
COLOURS = {1: (0, 200, 0), 0: (0, 0, 230)}  # BGR: success green, failure red


def _tile(answer: StoredLabel, number: int) -> np.ndarray:
    tile = enlarge(answer.image, WINDOW_PIXELS // 3)
    cv2.rectangle(
        tile, (0, 0), tile.shape[1::-1], COLOURS.get(answer.label or 0, (200, 200, 200)), 4
    )
    text = f"{number} {'yes' if answer.label == 1 else 'no'}"
    if answer.supersedes is not None:
        text += " (corrected)"
    cv2.putText(tile, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(tile, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def _page(answers: list[StoredLabel], first: int) -> np.ndarray:
    tiles = [_tile(a, i + 1) for i, a in enumerate(answers[first : first + PAGE])]
    tiles += [np.zeros_like(tiles[0])] * (PAGE - len(tiles))
    grid = np.concatenate([np.concatenate(tiles[r * 3 : r * 3 + 3], 1) for r in range(3)])
    return caption(
        grid,
        [
            "Is each a success?  [1-9] flip an answer  [n]/[p] next/previous  [q] done",
            f"answers {first + 1}-{min(first + PAGE, len(answers))} of {len(answers)}",
        ],
    )


def review(store: LabelStore) -> int:
    """Show the success answers in force, 9 at a time, and commit each flip; returns the flips."""
    require_display("export them with `reward-learning labels export` and answer elsewhere")
    answers = [a for a in store.answers() if a.label in (0, 1)]
    if not answers:
        return 0
    flips, first = 0, 0
    cv2.namedWindow(TITLE, cv2.WINDOW_AUTOSIZE)
    try:
        while True:
            cv2.imshow(TITLE, _page(answers, first))
            key = cv2.waitKey(50)
            if not window_open(TITLE):
                return flips
            key = key & 0xFF if key != -1 else -1
            if key == ord("q"):
                return flips
            if key == ord("n") and first + PAGE < len(answers):
                first += PAGE
            elif key == ord("p"):
                first = max(0, first - PAGE)
            elif ord("1") <= key <= ord("9") and first + key - ord("1") < len(answers):
                position = first + key - ord("1")
                old = answers[position]
                answers[position] = store.correct(old, 1 - int(old.label or 0))
                flips += 1
    finally:
        close_window(TITLE)
