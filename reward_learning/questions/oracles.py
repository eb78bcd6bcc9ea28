"""Oracles answer queries: a simulated one that reads ground truth, or a person.

An oracle yields its answers one at a time, so that the caller can store each answer
durably before it uses it (and before the oracle is asked for the next one).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import cv2
import gymnasium as gym
import numpy as np

from reward_learning.errors import UserInputError


@dataclass(frozen=True)
class Query:
    """Items shown to an oracle in one round.

    Attributes:
        images: uint8, shape ``(n, H, W)`` (grayscale) or ``(n, H, W, 3)`` (RGB).
        keys: int64, shape ``(n,)``: the caller's ids for the items (pool indices, frame ids).
        probabilities: the model's belief at query time: shape ``(n,)`` for P(success) or
            ``(n, C)`` for classes.
        scores: shape ``(n,)``: the informativeness score that chose each item.
        remaining: labels left in the budget before this query is answered.
        scenes: per item, the scene state that draws a robot frame large
            (:mod:`reward_learning.tasks.scenes`), or ``None``; ``None`` for MNIST.
    """

    images: np.ndarray
    keys: np.ndarray
    probabilities: np.ndarray
    scores: np.ndarray
    remaining: int
    scenes: list[np.ndarray | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.images)
        for name in ("keys", "probabilities", "scores", "scenes"):
            rows = getattr(self, name)
            assert rows is None or len(rows) == n, f"query {name} has {len(rows)} rows, images {n}"

    def scene(self, position: int) -> np.ndarray | None:
        """The scene state of item ``position``, if there is one."""
        return None if self.scenes is None else self.scenes[position]


class Answer(NamedTuple):
    """One answer to one item of a :class:`Query`.

    Attributes:
        position: index of the item in the query.
        label: the class (``1`` success / ``0`` failure, or a digit); ``None`` when skipped.
        undo: ``True`` takes back the previous answer to ``position`` (``label`` is ``None``).
    """

    position: int
    label: int | None
    undo: bool = False


class Oracle(Protocol):
    """Answers queries; stopping early (a person pressing ``q``) just ends the iterator."""

    source: str  # recorded with every answer: "simulated", "human"

    def ask(self, query: Query) -> Iterator[Answer]:
        """Yield answers to the items of ``query``, in the order they are given."""


class SimulatedOracle:
    """Answers from ground truth, looked up for exactly the keys it is asked about.

    Args:
        truth: maps keys (int64, shape ``(n,)``) to true labels (int, shape ``(n,)``).
        n_classes: number of classes, for drawing wrong answers.
        error_rate: probability of answering a uniformly drawn wrong class (a tired person).
        rng: random generator for the errors.
    """

    def __init__(
        self,
        truth: Callable[[np.ndarray], np.ndarray],
        n_classes: int = 2,
        error_rate: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate={error_rate}: expected a probability in [0, 1]")
        self.truth = truth
        self.n_classes = n_classes
        self.error_rate = error_rate
        self.rng = rng or np.random.default_rng()
        self.source = "simulated"

    def ask(self, query: Query) -> Iterator[Answer]:
        """Yield the true label of every item, flipped to a wrong class at ``error_rate``."""
        labels = np.asarray(self.truth(query.keys), dtype=np.int64)
        wrong = self.rng.random(len(labels)) < self.error_rate
        shift = self.rng.integers(1, self.n_classes, size=len(labels))
        labels = np.where(wrong, (labels + shift) % self.n_classes, labels)
        for position, label in enumerate(labels):
            yield Answer(position, int(label))


class LaterOracle:
    """Answers nothing now: every frame is stored as pending, for ``reward-learning label RUN_DIR``."""

    source = "pending"

    def ask(self, query: Query) -> Iterator[Answer]:
        """Yield a skip for every item; the store keeps the frames under source ``pending``."""
        for position in range(len(query.images)):
            yield Answer(position, None)


class GroundTruthTap(gym.Wrapper[Any, Any, Any, Any]):
    """Takes ground truth out of a training env, so that only the simulated oracle sees it.

    Each step's ``info["is_success"]`` is removed from ``info`` and kept here under the step's
    frame key (``info["frame_key"]``, set by :class:`~reward_learning.frames.FrameRecorder`
    inside this wrapper), and the env's own reward (ground-truth success) is replaced by 0;
    the learned reward replaces it. This is the one place ground truth crosses into learning
    (docs/ARCHITECTURE.md): through :meth:`truth`, for the keys an oracle is asked about.
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self._success: dict[int, bool] = {}
        self.lookups = 0

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; ``info`` comes back without ``is_success`` and the reward is 0."""
        obs, _, terminated, truncated, info = self.env.step(action)
        if "is_success" in info:  # an --env may report none (then no simulated oracle runs)
            self._success[int(info["frame_key"])] = bool(info.pop("is_success"))
        return obs, 0.0, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env; ``info`` comes back without ``is_success``.

        A filed reset frame (pixel policies') keeps its success, or failure where the env
        reports none at reset: an episode does not start in its goal.
        """
        obs, info = self.env.reset(**kwargs)
        success = bool(info.pop("is_success", False))
        if "frame_key" in info:
            self._success[int(info["frame_key"])] = success
        return obs, info

    def truth(self, keys: np.ndarray) -> np.ndarray:
        """Ground-truth success (0/1, int64 ``(n,)``) of the frames with these keys."""
        self.lookups += len(keys)
        return np.array([self._success[int(k)] for k in keys], dtype=np.int64)


# --------------------------------------------------------------------------- people

WINDOW_PIXELS = 384  # frames are shown enlarged (nearest neighbour) to at least this size


def require_display(instead: str = "") -> None:
    """Fail at once, in one line, where no window can open (``cv2.imshow`` would abort).

    Args:
        instead: what the user can do without a display, appended to the message.

    Raises:
        UserInputError: no ``DISPLAY`` (or ``WAYLAND_DISPLAY``), or an X display that accepts no
            connection (Qt aborts the process on one).
    """
    alternative = f", or {instead}" if instead else ""
    display = os.environ.get("DISPLAY")
    if not display:
        if os.environ.get("WAYLAND_DISPLAY"):
            return
        raise UserInputError(
            f"answering in a window needs a display: set DISPLAY (or run under xvfb-run){alternative}"
        )
    if not _x_display_answers(display):
        raise UserInputError(
            f"DISPLAY {display} accepts no connection (is its X server running?): set DISPLAY "
            f"to a running one (or run under xvfb-run){alternative}"
        )


def _x_display_answers(display: str) -> bool:
    """Whether the X server of ``display`` (``:N``, ``:N.S`` or ``HOST:N``) accepts a connection."""
    host, _, rest = display.rpartition(":")
    try:
        number = int(rest.split(".")[0])
    except ValueError:
        return False
    if host in ("", "unix"):
        # the socket file, then Linux's abstract namespace (Xvfb listens on both)
        for path in (f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(2)
                try:
                    client.connect(path)
                    return True
                except OSError:
                    continue
        return False
    try:
        socket.create_connection((host, 6000 + number), timeout=2).close()
        return True
    except OSError:
        return False


def enlarge(image: np.ndarray, pixels: int = WINDOW_PIXELS) -> np.ndarray:
    """uint8 ``(H, W[, 3])`` RGB or gray to BGR, enlarged by an integer factor to >= ``pixels``."""
    factor = max(1, -(-pixels // max(image.shape[:2])))
    big = cv2.resize(
        image, (image.shape[1] * factor, image.shape[0] * factor), interpolation=cv2.INTER_NEAREST
    )
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR if big.ndim == 2 else cv2.COLOR_RGB2BGR)


View = Callable[[np.ndarray], np.ndarray]
"""Draws a scene state large: float ``(S,)`` to uint8 RGB ``(H, W, 3)`` (a ``SceneView``)."""


def frame_and_view(image: np.ndarray, scene: np.ndarray | None, view: View | None) -> np.ndarray:
    """BGR: the frame the classifier judges, enlarged, and beside it the scene drawn large."""
    small = enlarge(image)
    if scene is None or view is None:
        return small
    large = cv2.cvtColor(view(scene), cv2.COLOR_RGB2BGR)
    height = max(small.shape[0], large.shape[0])
    return np.concatenate(
        [np.pad(a, ((0, height - a.shape[0]), (0, 0), (0, 0))) for a in (small, large)], axis=1
    )


def caption(canvas: np.ndarray, lines: list[str]) -> np.ndarray:
    """``canvas`` with a black band of text lines under it."""
    band = np.zeros((22 * len(lines) + 8, canvas.shape[1], 3), np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(
            band,
            line,
            (8, 22 * (i + 1)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return np.concatenate([canvas, band])


def window_open(title: str) -> bool:
    """Whether the OpenCV window ``title`` is on screen (``False`` once a person closed it)."""
    try:
        return cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:  # Qt's highgui raises once a person closed the window
        return False


def close_window(title: str) -> None:
    """Close the OpenCV window ``title`` if it is still on screen (a person may have closed it)."""
    if window_open(title):
        cv2.destroyWindow(title)
        cv2.waitKey(1)


class WindowOracle:
    """A person answers in an OpenCV window, one key per item.

    Keys: the answer keys (``keys``), ``s`` skip, ``u`` undo the last answer (its item is shown
    again), ``q`` stop asking this round. Closing the window counts as ``q``.

    Args:
        keys: key character to label, e.g. ``{"y": 1, "n": 0}``.
        title: the window's title.
        prompt: the question, shown under the frame.
        grid: show up to 9 frames at once (3x3), answered in order; the current one is framed.
        view: draws an item's scene state large beside its frame (one item at a time only).
    """

    def __init__(
        self,
        keys: dict[str, int],
        title: str,
        prompt: str,
        grid: bool = False,
        view: View | None = None,
    ) -> None:
        require_display()
        self.keys = {ord(k): label for k, label in keys.items()}
        self.title = title
        self.prompt = prompt
        self.grid = grid
        self.view = view
        self.source = "human"
        self.seconds_answering = 0.0

    def _describe(self, query: Query, position: int) -> str:
        p = np.asarray(query.probabilities[position])
        belief = (
            f"P(success) {float(p):.2f}"
            if p.ndim == 0
            else f"model guess {int(p.argmax())} ({p.max():.2f})"
        )
        return f"{belief}   score {float(query.scores[position]):.3f}"

    def _frame(self, query: Query, position: int, answered: int) -> np.ndarray:
        if not self.grid:
            canvas = frame_and_view(query.images[position], query.scene(position), self.view)
            first = position
        else:
            first = position - position % 9
            tiles = [enlarge(img, WINDOW_PIXELS // 3) for img in query.images[first : first + 9]]
            tiles += [np.zeros_like(tiles[0])] * (9 - len(tiles))
            cv2.rectangle(tiles[position - first], (0, 0), tiles[0].shape[1::-1], (0, 255, 255), 3)
            canvas = np.concatenate([np.concatenate(tiles[r * 3 : r * 3 + 3], 1) for r in range(3)])
        keys = "/".join(chr(k) for k in self.keys)
        return caption(
            canvas,
            [
                f"{self.prompt}  [{keys}] answer  [s] skip  [u] undo  [q] stop",
                self._describe(query, position),
                f"item {position + 1} of {len(query.images)}   labels left {query.remaining - answered}",
            ],
        )

    def _key(self) -> int:
        """The next key press; ``q`` when the window was closed."""
        while True:
            key = cv2.waitKey(50)
            if not window_open(self.title):
                return ord("q")
            if key != -1:
                return key & 0xFF

    def ask(self, query: Query) -> Iterator[Answer]:
        """Show each item until it is answered or skipped; yields each answer at once."""
        cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE)
        history: list[Answer] = []  # answers and skips given, for undo
        position = 0
        try:
            while position < len(query.images):
                answered = sum(a.label is not None for a in history)
                cv2.imshow(self.title, self._frame(query, position, answered))
                shown = time.perf_counter()
                key = self._key()
                self.seconds_answering += time.perf_counter() - shown
                if key == ord("q"):
                    return
                if key == ord("u"):
                    if history:
                        position = history.pop().position
                        yield Answer(position, None, undo=True)
                    continue
                if key != ord("s") and key not in self.keys:
                    continue
                answer = Answer(position, None if key == ord("s") else self.keys[key])
                history.append(answer)
                yield answer
                position += 1
        finally:
            close_window(self.title)


def success_window_oracle(grid: bool = False, view: View | None = None) -> WindowOracle:
    """``y`` success / ``n`` failure, for robot frames; ``view`` draws each frame's scene large."""
    return WindowOracle(
        {"y": 1, "n": 0}, "reward_learning: success?", "Is this a success?", grid, view
    )


def digit_window_oracle() -> WindowOracle:
    """Keys ``0``-``9`` answer the digit, for MNIST."""
    return WindowOracle(
        {str(d): d for d in range(10)}, "reward_learning: which digit?", "Which digit?"
    )
