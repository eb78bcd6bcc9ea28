"""Real OpenCV windows under Xvfb, driven by xdotool key presses."""

import os
import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from reward_learning.errors import UserInputError
from reward_learning.oracles import (
    Answer,
    Query,
    digit_window_oracle,
    require_display,
    success_window_oracle,
)
from tests.conftest import TINY

pytestmark = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")),
    reason="needs Xvfb and xdotool (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def display():
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


def frame_and_scene(image, scene):
    """The frame enlarged 8x and, beside it, the env's own 384-pixel picture of the scene state
    stored with the frame, from the frame's camera: what the success window shows."""
    from reward_learning.tasks import make_env

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


def test_frames_saved_for_later_are_answered_in_the_window_and_used_on_resume(
    display, first_pictures, tmp_path
):
    from reward_learning import agent, run_config
    from reward_learning.cli import main
    from reward_learning.labels import LabelStore

    settings = {**TINY, "steps": 200, "eval_every": 200, "queries_per_round": 2}
    config = run_config.TrainConfig(
        reward="vice-raq", oracle="later", out=str(tmp_path / "run"), **settings
    )
    agent.TrainingRun(config).train()
    store = LabelStore(tmp_path / "run" / "labels.sqlite", "run")
    assert len(store.pending()) == 2 and store.answers() == []
    first = store.pending()[0]
    picture = frame_and_scene(first.image, first.scene)
    keys = ["n", "u", "y", "n"]  # the first answer is taken back and given again
    thread = press("reward_learning: success?", keys)
    assert main(["label", str(tmp_path / "run")]) == 0
    thread.join()
    assert store.pending() == []
    assert [(a.label, a.source) for a in store.answers()] == [(1, "human"), (0, "human")]
    assert store.answers()[0].key == first.key
    assert shows(first_pictures["reward_learning: success?"], picture)
    resumed = agent.TrainingRun(run_config.load_run_config(tmp_path / "run"), resume=True)
    assert resumed.labels_used == 2


def test_a_gymnasium_env_without_success_is_labelled_later_and_resumes_on_the_answers(
    display, tmp_path
):
    import cv2

    from reward_learning import agent, run_config
    from reward_learning.cli import main
    from reward_learning.labels import LabelStore
    from reward_learning.tasks import make_env

    goals = tmp_path / "goals"
    goals.mkdir()
    env = make_env("Reacher-v5", "image", 64)
    image, _ = env.reset(seed=0)
    cv2.imwrite(str(goals / "goal.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    settings = {**TINY, "steps": 200, "eval_every": 200, "queries_per_round": 2}
    config = run_config.TrainConfig(
        task="Reacher-v5", oracle="later", goal_dir=str(goals), out=str(tmp_path / "run"),
        **settings,
    )  # fmt: skip
    agent.TrainingRun(config).train()
    store = LabelStore(tmp_path / "run" / "labels.sqlite", "run")
    pending = len(store.pending())  # Reacher's frames differ little: near-duplicates are not asked
    assert pending >= 1
    thread = press("reward_learning: success?", ["y"] + ["n"] * (pending - 1))
    assert main(["label", str(tmp_path / "run")]) == 0
    thread.join()
    assert sorted(a.label for a in store.answers()) == [0] * (pending - 1) + [1]
    assert main(["train", "--resume", str(tmp_path / "run"), "--steps", "300"]) == 0
    resumed = agent.TrainingRun(run_config.load_run_config(tmp_path / "run"), resume=True)
    assert resumed.labels_used >= pending and len(resumed.data.positives) >= 1


def test_review_flips_an_answer_the_store_keeps_both_and_a_resumed_run_trains_on_it(
    display, tmp_path, capsys
):
    from reward_learning import agent, run_config
    from reward_learning.cli import main
    from reward_learning.labels import LabelStore

    settings = {**TINY, "steps": 200, "eval_every": 200, "queries_per_round": 2}
    config = run_config.TrainConfig(reward="vice-raq", out=str(tmp_path / "run"), **settings)
    agent.TrainingRun(config).train()
    store = LabelStore(tmp_path / "run" / "labels.sqlite", "run")
    before = store.answers()
    assert len(before) == 2 and {a.label for a in before} == {0}  # random frames: failures
    thread = press("reward_learning: review", ["2", "q"])
    assert main(["labels", "review", str(tmp_path / "run")]) == 0
    thread.join()
    after = store.answers()
    assert [a.label for a in after] == [0, 1] and after[1].supersedes == before[1].id
    assert len(store.answers(include_skipped=True)) == 2
    assert store.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 3  # both rows kept
    assert main(["labels", "list", str(tmp_path / "run")]) == 0
    assert f"corrects {before[1].id}" in capsys.readouterr().out
    resumed = agent.TrainingRun(run_config.load_run_config(tmp_path / "run"), resume=True)
    assert len(resumed.data.positives) == 1 and len(resumed.data.negatives) == 1
    np.testing.assert_array_equal(next(iter(resumed.data.positives.values())), before[1].image)


LIVE = "training goes on"  # xdotool matches a regular expression


def _live_run(tmp_path, **overrides):
    from reward_learning import agent, run_config

    settings = {**TINY, "steps": 600, "eval_every": 600, **overrides}
    config = run_config.TrainConfig(oracle="human", out=str(tmp_path / "run"), **settings)
    return agent.TrainingRun(config)


def test_training_goes_on_while_a_question_waits_and_the_frames_stay_pending(display, tmp_path):
    from reward_learning.labels import LabelStore

    run = _live_run(tmp_path)
    summary = run.train()  # nobody answers: it must still reach its last step
    assert summary["steps"] == 600
    store = LabelStore(tmp_path / "run" / "labels.sqlite", "run")
    # Five rounds of two (less any near-duplicates), all still there for `reward-learning label`.
    assert store.answers() == [] and len(store.pending()) == run.query_callback.asked >= 8


def test_an_answer_given_while_training_is_stored_and_used_at_the_next_update(
    display, first_pictures, tmp_path
):
    from stable_baselines3.common.callbacks import BaseCallback

    from reward_learning.labels import LabelStore
    from reward_learning.live_labels import TITLE

    class UntilPressed(BaseCallback):
        """Slows each env step once the window is up and until the key is pressed: 600 fast
        steps on a loaded machine once ended before the window was drawn, so nobody answered;
        slowing every step from the start delayed the window past the test's wait."""

        def _on_step(self) -> bool:
            if thread.shown.is_set() and thread.is_alive():
                time.sleep(0.2)
            return True

    run = _live_run(tmp_path)
    thread = press(LIVE, ["y"], delay=0.5)
    run.train(extra_callbacks=(UntilPressed(),))
    thread.join()
    assert thread.shown.is_set(), f"no window {LIVE!r} within {WAIT_S:.0f} s"
    store = LabelStore(tmp_path / "run" / "labels.sqlite", "run")
    (answer,) = store.answers()
    assert (answer.label, answer.source) == (1, "human")
    # The window's first question was the oldest pending frame, the one answered.
    assert shows(first_pictures[TITLE], frame_and_scene(answer.image, answer.scene))
    assert answer.id in run.data.positives
    # Folded in before a later classifier update: the update counted it.
    assert run.classifier_callback.labels_at_update == 1
    assert len(store.pending()) == run.query_callback.asked - 1


def test_closing_the_window_lets_training_finish_without_more_questions(display, tmp_path):
    from reward_learning.labels import LabelStore

    run = _live_run(tmp_path)
    thread = press(LIVE, ["q"])
    summary = run.train()
    thread.join()
    assert summary["steps"] == 600
    pending = LabelStore(tmp_path / "run" / "labels.sqlite", "run").pending()
    # The first round's frames only: no round after the window closed.
    assert 1 <= len(pending) == run.query_callback.asked <= 2


def test_sigkill_while_questions_wait_loses_no_answer_and_the_run_resumes(display, tmp_path):
    import signal
    import sys

    from reward_learning import agent, checkpoint, run_config
    from reward_learning.cli import main
    from reward_learning.labels import LabelStore

    out = tmp_path / "run"
    flags = {
        "steps": 20_000, "learning-starts": 100, "queries-every": 100, "classifier-every": 100,
        "goals": 4, "eval-every": 200, "eval-episodes": 2, "device": "cpu",
    }  # fmt: skip
    command = [sys.executable, "-m", "reward_learning.cli", "train", "push", "--oracle", "human"]
    command += ["--out", str(out), "--no-progress", "--no-video"]
    command += [item for name, value in flags.items() for item in (f"--{name}", str(value))]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    press(LIVE, ["y"]).join()
    store = LabelStore(out / "labels.sqlite", "run")
    for _ in range(300):  # until the answer is in the store and the next round's frames wait
        if store.answers() and store.pending():
            break
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    ((answer_id, label, source),) = [(a.id, a.label, a.source) for a in store.answers()]
    assert (label, source) == (1, "human") and store.pending()
    saved = checkpoint.latest(out)
    resume_to = (checkpoint.read_state(saved)["step"] if saved else 0) + 100
    assert main(["train", "--resume", str(out), "--steps", str(resume_to)]) == 0
    assert [(a.id, a.label) for a in store.answers()] == [(answer_id, 1)]
    resumed = agent.TrainingRun(run_config.load_run_config(out), resume=True)
    assert answer_id in resumed.data.positives


def test_mnist_human_oracle_stores_each_digit(display, tmp_path):
    from reward_learning.cli import main
    from reward_learning.labels import LabelStore

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
