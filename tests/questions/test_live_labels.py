"""A person answering in a window while training goes on."""

import signal
import subprocess
import time

from tests.conftest import TINY
from tests.questions.conftest import WAIT_S, frame_and_scene, press, shows

LIVE = "training goes on"  # xdotool matches a regular expression


def _live_run(tmp_path, **overrides):
    from reward_learning.run import settings, training

    values = {**TINY, "steps": 600, "eval_every": 600, **overrides}
    config = settings.TrainConfig(oracle="human", out=str(tmp_path / "run"), **values)
    return training.TrainingRun(config)


def test_training_goes_on_while_a_question_waits_and_the_frames_stay_pending(display, tmp_path):
    from reward_learning.questions.labels import LabelStore

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

    from reward_learning.questions.labels import LabelStore
    from reward_learning.questions.live_labels import TITLE

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
    from reward_learning.questions.labels import LabelStore

    run = _live_run(tmp_path)
    thread = press(LIVE, ["q"])
    summary = run.train()
    thread.join()
    assert summary["steps"] == 600
    pending = LabelStore(tmp_path / "run" / "labels.sqlite", "run").pending()
    # The first round's frames only: no round after the window closed.
    assert 1 <= len(pending) == run.query_callback.asked <= 2


def test_sigkill_while_questions_wait_loses_no_answer_and_the_run_resumes(display, tmp_path):
    import sys

    from reward_learning.cli import main
    from reward_learning.questions.labels import LabelStore
    from reward_learning.run import checkpoint, settings, training

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
    resumed = training.TrainingRun(settings.load_run_config(out), resume=True)
    assert answer_id in resumed.data.positives
