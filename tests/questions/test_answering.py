"""Who answers and when: a late simulated person, and frames saved for later answered in a window."""

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning.cli import main
from reward_learning.questions.labels import LabelStore
from reward_learning.run import metrics, settings, training
from reward_learning.tasks.make import make_env
from tests.conftest import TINY, tiny_run
from tests.questions.conftest import frame_and_scene, press, shows


class AnswersByStep(BaseCallback):
    """Labels folded into the classifier at every env step."""

    def __init__(self, run):
        super().__init__()
        self.run = run
        self.labels = {}

    def _on_step(self):
        self.labels[self.num_timesteps] = self.run.labels_used
        return True


def test_a_late_simulated_person_answers_each_round_delay_steps_after_it(tmp_path):
    run = tiny_run(
        tmp_path / "vice-raq", reward="vice-raq", steps=400, eval_every=200, oracle_delay=150
    )
    seen = AnswersByStep(run)
    summary = run.train(extra_callbacks=(seen,))
    # Rounds at 200, 300 and 400: the first round's answers arrive at 350 (at the next poll of
    # the queue, every 4 steps), none before; the second's would at 450.
    assert max(seen.labels[t] for t in range(1, 350)) == 0
    assert seen.labels[353] >= 1 and seen.labels[353] == seen.labels[400]
    answers = run.store.answers()
    assert summary["labels"] == len(answers) == seen.labels[400]
    assert {a.source for a in answers} == {"simulated"}
    assert summary["labels_pending"] == len(run.store.pending()) >= 1  # rounds 300 and 400
    assert run.tap.lookups == len(answers)  # ground truth only for the frames answered
    rows = metrics.read_metrics(tmp_path / "vice-raq" / "metrics.csv")
    # Written at 400's evaluation, before 400's round: round 300's frames wait.
    assert 1 <= rows[-1]["pending"] < summary["labels_pending"]


def test_frames_saved_for_later_are_answered_in_the_window_and_used_on_resume(
    display, first_pictures, tmp_path
):

    values = {**TINY, "steps": 200, "eval_every": 200, "queries_per_round": 2}
    config = settings.TrainConfig(
        reward="vice-raq", oracle="later", out=str(tmp_path / "run"), **values
    )
    training.TrainingRun(config).train()
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
    resumed = training.TrainingRun(settings.load_run_config(tmp_path / "run"), resume=True)
    assert resumed.labels_used == 2


def test_a_gymnasium_env_without_success_is_labelled_later_and_resumes_on_the_answers(
    display, tmp_path
):
    import cv2

    goals = tmp_path / "goals"
    goals.mkdir()
    env = make_env("Reacher-v5", "image", 64)
    image, _ = env.reset(seed=0)
    cv2.imwrite(str(goals / "goal.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    values = {**TINY, "steps": 200, "eval_every": 200, "queries_per_round": 2}
    config = settings.TrainConfig(
        task="Reacher-v5", oracle="later", goal_dir=str(goals), out=str(tmp_path / "run"),
        **values,
    )  # fmt: skip
    training.TrainingRun(config).train()
    store = LabelStore(tmp_path / "run" / "labels.sqlite", "run")
    pending = len(store.pending())  # Reacher's frames differ little: near-duplicates are not asked
    assert pending >= 1
    thread = press("reward_learning: success?", ["y"] + ["n"] * (pending - 1))
    assert main(["label", str(tmp_path / "run")]) == 0
    thread.join()
    assert sorted(a.label for a in store.answers()) == [0] * (pending - 1) + [1]
    assert main(["train", "--resume", str(tmp_path / "run"), "--steps", "300"]) == 0
    resumed = training.TrainingRun(settings.load_run_config(tmp_path / "run"), resume=True)
    assert resumed.labels_used >= pending and len(resumed.data.positives) >= 1


def test_each_oracle_says_who_answers_and_when(display):
    from dataclasses import replace

    from reward_learning.questions import ORACLES
    from reward_learning.questions.live_labels import DelayedAnswers, LiveLabelWindow
    from reward_learning.questions.oracles import LaterOracle, SimulatedOracle, WindowOracle

    config = settings.TrainConfig()
    truth = lambda keys: np.ones(len(keys), np.int64)  # noqa: E731
    now = ORACLES.build("simulated", config, truth, None)
    assert isinstance(now.asks, SimulatedOracle) and now.simulated is now.asks
    assert now.answers_pending is None
    late = ORACLES.build("simulated", replace(config, oracle_delay=300), truth, None)
    assert isinstance(late.asks, LaterOracle) and isinstance(late.simulated, SimulatedOracle)
    assert isinstance(late.answers_pending(None, None, None), DelayedAnswers)
    queue = ORACLES.build("human", config, truth, None)
    assert isinstance(queue.asks, LaterOracle) and queue.simulated is None
    assert isinstance(queue.answers_pending(None, None, None), LiveLabelWindow)
    block = ORACLES.build("human", replace(config, human_wait="block"), truth, None)
    assert isinstance(block.asks, WindowOracle) and block.answers_pending is None
    later = ORACLES.build("later", config, truth, None)
    assert isinstance(later.asks, LaterOracle) and later.answers_pending is None
