"""Real OpenCV windows under Xvfb, driven by xdotool key presses: the display and its helpers."""

import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

from reward_learning.questions.oracles import (
    Query,
)


def pytest_collection_modifyitems(items):
    """Window tests run again, in a new worker, when OpenCV's Qt aborts their process.

    Qt aborts the whole process when its first X connection fails, and in a clean-clone CI run
    on 2 loaded cores it once did so at the first window of a worker whose Xvfb had reported
    itself ready (tests/questions/test_answering.py, 2026-12-05; cause not found). With xdist,
    pytest-rerunfailures reruns a test that crashed its worker (or failed), up to twice: a
    test that fails every time still fails.
    """
    for item in items:
        if "display" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.flaky(reruns=2))


@pytest.fixture(scope="session")
def display():
    """One Xvfb display for every window test of this process (skips where Xvfb or xdotool is
    missing). One per process, not per module: OpenCV's Qt keeps its first X connection, and
    once that display was gone the next module's first window aborted the process."""
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("needs Xvfb and xdotool (.ci/run installs them)")
    # Xvfb picks a free display and writes its number once it accepts connections: a fixed 1 s
    # wait once let OpenCV's Qt abort the test process on a loaded machine (no display yet).
    ready, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(ready) as reply:
        number = reply.readline().strip()
    if not number:
        pytest.fail(f"Xvfb exited ({server.wait()}) before it had a display")
    number = f":{number}"
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = number
    fonts = "/usr/share/fonts/truetype/dejavu"
    if os.path.isdir(fonts):
        os.environ.setdefault("QT_QPA_FONTDIR", fonts)
    yield number
    server.terminate()
    server.wait()
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old


WAIT_S = 180.0
"""How long a test waits for a window: on 2 loaded cores a training run's first
question took over 70 s to appear (a fixed 600 searches once gave up before it did)."""


def find_window(title, wait_s=WAIT_S):
    """The X ids of the visible windows called ``title``, once there is one (``[]`` if none
    came within ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", title],
            capture_output=True,
            text=True,
        )
        if found.stdout.split() or time.monotonic() > deadline:
            return found.stdout.split()
        time.sleep(0.1)


def press(title, keys, delay=0.3):
    """Send keys to the window called ``title`` from a thread, once it exists.

    The thread's ``shown`` event is set once the window is found; if it never is (within
    :data:`WAIT_S`), no key is sent and the test's own assertions fail on the missing answers.
    """
    shown = threading.Event()

    def run():
        windows = find_window(title)
        if not windows:
            return
        shown.set()
        time.sleep(delay)
        for key in keys:
            subprocess.run(["xdotool", "key", "--window", windows[0], key], check=True)
            time.sleep(delay)

    thread = threading.Thread(target=run, daemon=True)
    thread.shown = shown
    thread.start()
    return thread


@pytest.fixture
def first_pictures(monkeypatch):
    """The first picture handed to each OpenCV window, RGB, by window title; the windows still
    open and draw every picture. The tests check these rather than screenshots: on Xvfb without a
    window manager, beside two CPU hogs, about one new window in 12 was never painted in 8 s
    (2026-12-02, a script creating 360 windows), whatever the poll's wait, MIT-SHM or a pause
    between windows; keys still reached it."""
    import cv2

    shown = {}
    real = cv2.imshow

    def imshow(title, image):
        if title not in shown:  # the live window redraws at every poll
            shown[title] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        real(title, image)

    monkeypatch.setattr(cv2, "imshow", imshow)
    return shown


def frames(n, channels=3, size=48):
    rng = np.random.default_rng(0)
    shape = (n, size, size, channels) if channels == 3 else (n, size, size)
    return rng.integers(0, 255, size=shape, dtype=np.uint8)


def query(n, probabilities=None):
    return Query(
        frames(n),
        np.arange(n),
        probabilities if probabilities is not None else np.full(n, 0.4),
        np.linspace(1, 0.5, n),
        remaining=10,
    )


def frame_and_scene(image, scene):
    """The frame enlarged 8x and, beside it, the env's own 384-pixel picture of the scene state
    stored with the frame, from the frame's camera: what the success window shows."""
    from reward_learning.tasks.make import make_env

    env = make_env("push", image_size=384)
    env.reset(seed=0)
    env.unwrapped.set_scene_state(scene)
    picture = np.concatenate(
        [np.kron(image, np.ones((8, 8, 1), np.uint8)), env.unwrapped.render_image()], 1
    )
    env.close()
    return picture


def shows(canvas, picture):
    """Whether a window's picture starts with ``picture`` (its caption is a band below)."""
    height, width = picture.shape[:2]
    return np.array_equal(canvas[:height, :width], picture)
