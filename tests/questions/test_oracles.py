"""Oracles: the ground-truth tap, and real OpenCV windows under Xvfb, driven by xdotool key presses."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from reward_learning.cli import main
from reward_learning.errors import UserInputError
from reward_learning.frames import FrameRecorder, FrameStore
from reward_learning.questions.labels import LabelStore
from reward_learning.questions.oracles import (
    Answer,
    GroundTruthTap,
    Query,
    digit_window_oracle,
    require_display,
    success_window_oracle,
)
from reward_learning.tasks.make import make_env
from tests.questions.conftest import WAIT_S, find_window, frames, press, query


def test_tap_hides_ground_truth_and_answers_only_asked_keys():
    tap = GroundTruthTap(FrameRecorder(make_env("push", image_size=48), FrameStore((48, 48, 3))))
    _, info = tap.reset(seed=0)
    assert "is_success" not in info
    for _ in range(5):
        _, reward, _, _, info = tap.step(tap.action_space.sample())
        assert reward == 0.0 and "is_success" not in info
    assert tap.truth(np.array([1, 3])).tolist() == [0, 0]
    assert tap.lookups == 2
    with pytest.raises(KeyError):
        tap.truth(np.array([99]))


def test_success_window_keys_do_what_they_say(display, first_pictures):
    oracle = success_window_oracle()
    thread = press(oracle.title, ["y", "n", "u", "y", "s", "q"])
    answers = list(oracle.ask(query(5)))
    thread.join()
    assert answers == [
        Answer(0, 1),
        Answer(1, 0),
        Answer(1, None, undo=True),
        Answer(1, 1),
        Answer(2, None),
    ]
    # The first picture holds the first frame enlarged 8x (48 -> 384 pixels), nearest neighbour.
    enlarged = np.kron(query(5).images[0], np.ones((8, 8, 1), np.uint8))
    assert np.array_equal(first_pictures[oracle.title][:384, :384], enlarged)


def send_wm_delete(window_id):
    """What a window manager sends when a person clicks a window's close button."""
    import ctypes
    import ctypes.util

    x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.c_void_p,
    ]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [
            ("type", ctypes.c_int),
            ("serial", ctypes.c_ulong),
            ("send_event", ctypes.c_int),
            ("display", ctypes.c_void_p),
            ("window", ctypes.c_ulong),
            ("message_type", ctypes.c_ulong),
            ("format", ctypes.c_int),
            ("data", ctypes.c_long * 5),
        ]

    class Event(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    display = x11.XOpenDisplay(os.environ["DISPLAY"].encode())
    event = Event()
    event.xclient.type = 33  # ClientMessage
    event.xclient.window = window_id
    event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
    event.xclient.format = 32
    event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
    x11.XSendEvent(display, window_id, 0, 0, ctypes.byref(event))
    x11.XFlush(display)
    x11.XCloseDisplay(display)


def test_closing_the_window_counts_as_stop(display):
    oracle = success_window_oracle()

    def close():
        # Until the window exists, as press() waits: a single search after 1 s found nothing
        # once on a loaded machine, and the oracle then waited forever.
        windows = find_window(oracle.title)
        time.sleep(0.3)
        for window in windows:
            send_wm_delete(int(window))

    threading.Thread(target=close, daemon=True).start()
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the closed window was never noticed"))
    signal.alarm(int(WAIT_S) + 60)  # a failure, not a suite that hangs
    try:
        assert list(oracle.ask(query(3))) == []
    finally:
        signal.alarm(0)


def test_grid_mode_takes_one_key_per_frame(display):
    oracle = success_window_oracle(grid=True)
    thread = press(oracle.title, ["y", "y", "n", "s"])
    answers = list(oracle.ask(query(4)))
    thread.join()
    assert [a.label for a in answers] == [1, 1, 0, None]


def test_digit_window(display):
    oracle = digit_window_oracle()
    probabilities = np.tile(np.eye(10)[3], (3, 1))
    q = Query(frames(3, channels=1, size=28), np.arange(3), probabilities, np.ones(3), remaining=5)
    thread = press(oracle.title, ["7", "x", "s", "u", "2", "q"])
    answers = list(oracle.ask(q))
    thread.join()
    assert answers == [Answer(0, 7), Answer(1, None), Answer(1, None, undo=True), Answer(1, 2)]


def test_no_display_fails_at_once(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UserInputError, match="needs a display: set DISPLAY"):
        require_display()


def test_mnist_human_oracle_stores_each_digit(display, tmp_path):

    thread = press("reward_learning: which digit?", ["4", "s", "q"])
    code = main(
        [
            "mnist",
            "--oracle",
            "human",
            "--strategy",
            "random",
            "--rounds",
            "1",
            "--seeds",
            "1",
            "--queries",
            "3",
            "--train-steps",
            "5",
            "--out",
            str(tmp_path / "m"),
        ]
    )
    thread.join()
    assert code == 0
    answers = LabelStore(tmp_path / "m" / "labels.sqlite", "m").answers(include_skipped=True)
    assert [a.label for a in answers][:2] == [4, None]
