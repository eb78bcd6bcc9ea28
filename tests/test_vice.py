import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning import agent, checkpoint, evaluation, metrics, run_config
from reward_learning.classifier import SuccessClassifier
from reward_learning.cli import main
from reward_learning.config import save_config
from reward_learning.frames import FrameRecorder, FrameStore, relabel
from reward_learning.goals import render_goals
from reward_learning.labels import LabelStore
from reward_learning.oracles import Answer, GroundTruthTap
from reward_learning.queries import QUERY_STRATEGIES, QueryCallback, embed_frames
from reward_learning.rewards import REWARD_MODES
from reward_learning.tasks import make_env
from reward_learning.vice import (
    ClassifierData,
    ClassifierReward,
    LearnedRewardWrapper,
    mix_negatives,
)
from tests.conftest import tiny_run


def reset_images(n, seed=0):
    env = make_env("push", obs_mode="image", image_size=48)
    images = []
    rng = np.random.default_rng(seed)
    for i in range(n):
        obs, _ = env.reset(seed=seed + i)
        for _ in range(rng.integers(0, 10)):
            obs, *_ = env.step(env.action_space.sample())
        images.append(obs)
    env.close()
    return np.stack(images)


def test_classifier_separates_goals_from_reset_frames():
    goals, starts = render_goals("push", 60, 48, seed=0), reset_images(60)
    classifier = SuccessClassifier(seed=0, device="cpu")
    classifier.train_steps(goals[:40], starts[:40], steps=150, batch_size=32)
    p_goal, p_start = classifier.predict_proba(goals[40:]), classifier.predict_proba(starts[40:])
    assert p_goal.mean() > 0.8 and p_start.mean() < 0.2
    assert classifier.predict_proba_passes(goals[40:], 4).shape == (4, 20)


def test_classifier_checkpoint_round_trip(tmp_path):
    images = reset_images(4)
    a = SuccessClassifier(seed=0, device="cpu")
    a.train_steps(images, images[::-1], steps=2, batch_size=4)
    a.save(tmp_path / "c.pt")
    b = SuccessClassifier(seed=1, device="cpu")
    b.load(tmp_path / "c.pt")
    np.testing.assert_allclose(a.logit(images), b.logit(images))
    assert b.version == a.version == 1


def test_reinitialized_classifier_retrains_like_a_fresh_one():
    images = reset_images(8)
    positives, negatives = images[:4], images[4:]

    def trained(classifier):
        torch.manual_seed(0)  # dropout draws from torch's global stream
        classifier.train_steps(positives, negatives, steps=3, batch_size=4)
        return classifier.logit(images)

    reused = SuccessClassifier(seed=3, device="cpu")
    first = trained(reused)
    trained(reused)  # warm retraining moves on from there
    reused.reinitialize()
    again = trained(reused)
    fresh = trained(SuccessClassifier(seed=3, device="cpu"))
    np.testing.assert_allclose(again, fresh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(first, fresh, rtol=1e-5, atol=1e-6)
    assert reused.version == 3


@pytest.mark.parametrize(("share", "n_answered"), [(0.0, 2), (0.5, 96), (0.2, 24)])
def test_oracle_failures_make_up_their_share_of_negatives(share, n_answered):
    policy = np.zeros((96, 4, 4, 3), np.uint8)
    answered = np.full((2, 4, 4, 3), 255, np.uint8)
    mixed = mix_negatives(policy, answered, share)
    assert len(mixed) == 96 + n_answered
    assert (mixed[:, 0, 0, 0] == 255).sum() == n_answered


def test_classifier_rejects_wrong_images():
    with pytest.raises(ValueError, match=r"expected uint8 \(N, H, W, 3\)"):
        SuccessClassifier(device="cpu").logit(np.zeros((2, 3, 48, 48), np.uint8))


class Recorder:
    """A reward that remembers the images it was given."""

    def __init__(self):
        self.seen = []

    def __call__(self, images):
        self.seen.append(images.copy())
        return images.reshape(len(images), -1).mean(1).astype(np.float32)


def test_reward_reads_the_next_state_image():
    recorder = Recorder()
    env = LearnedRewardWrapper(make_env("push", image_size=48), recorder)
    env.reset(seed=0)
    obs, reward, *_ = env.step(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(recorder.seen[-1][0], obs["image"])
    assert reward == pytest.approx(obs["image"].mean(), rel=1e-5)


class FixedLogits:
    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype=np.float32)

    def logit(self, images):
        return self.logits[: len(images)]


def test_reward_forms_agree_far_from_the_goal_and_differ_inside_it():
    logits = [-40.0, -12.0, -6.0, 2.0, 6.0, 40.0]
    images = np.zeros((6, 8, 8, 3), np.uint8)
    log_p = ClassifierReward(FixedLogits(logits), form="log-p")(images)
    logit = ClassifierReward(FixedLogits(logits), form="logit", scale=2.0)(images)
    np.testing.assert_allclose(log_p[:3], [-10.0, -10.0, -6.0], atol=0.01)
    assert np.all(log_p <= 0) and log_p[4] - log_p[3] < 0.2  # flat past the boundary
    np.testing.assert_allclose(logit, [-20.0, -20.0, -12.0, 4.0, 12.0, 20.0])
    with pytest.raises(ValueError, match="form"):
        ClassifierReward(FixedLogits(logits), form="p")


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


def test_policy_batches_carry_no_images_when_the_policy_reads_state(tmp_path):
    run = tiny_run(tmp_path / "vice", reward="vice")
    run.model.learn(120)
    batch = run.model.replay_buffer.sample(8)
    assert batch.observations.shape == batch.next_observations.shape == (8, 4)
    assert run.frames.size == 120 and run.frames.get(slice(0, 120)).any()  # the reward's frames


def test_relabelling_follows_the_classifier(tmp_path):
    run = tiny_run(tmp_path / "vice", reward="vice")
    run.model.learn(250, callback=run._callbacks())
    buffer, callback = run.model.replay_buffer, run.classifier_callback
    n = buffer.size()
    np.testing.assert_allclose(buffer.rewards[:n, 0], run.reward_fn(stored_frames(run)), rtol=1e-5)
    stored = buffer.rewards[:n, 0].copy()
    version = run.classifier.version
    relabel(buffer, run.frames, run.reward_fn)  # same classifier: same rewards
    np.testing.assert_allclose(buffer.rewards[:n, 0], stored, rtol=1e-5)
    callback.update()  # the classifier changes: every stored reward is recomputed
    assert run.classifier.version == version + 1
    assert not np.allclose(buffer.rewards[:n, 0], stored)
    np.testing.assert_allclose(buffer.rewards[:n, 0], run.reward_fn(stored_frames(run)), rtol=1e-5)


def stored_frames(run):
    return run.frames.get(run.model.replay_buffer.stored_frame_keys())


def test_success_scores_order_by_strategy():
    classifier = SuccessClassifier(seed=0, device="cpu")
    images = reset_images(6)
    scores, p = QUERY_STRATEGIES.get("most-likely-success")(classifier, images)
    np.testing.assert_allclose(scores, p)
    scores, p = QUERY_STRATEGIES.get("least-confident")(classifier, images)
    np.testing.assert_allclose(scores, 1 - np.maximum(p, 1 - p), rtol=1e-5)
    scores, p = QUERY_STRATEGIES.get("bald")(classifier, images)
    assert scores.shape == p.shape == (6,) and (scores >= 0).all()
    assert embed_frames(images).shape == (6, 768)


class FixedProbability:
    def __init__(self, probability_of):
        self.probability_of = probability_of
        self.version = 1

    def predict_proba(self, images):
        return np.array([self.probability_of(img) for img in images], dtype=np.float32)


class ScriptedOracle:
    source = "simulated"

    def __init__(self, answers):
        self.answers = answers
        self.queries = []

    def ask(self, query):
        self.queries.append(query)
        yield from self.answers(query)


def test_query_round_asks_the_top_frames_without_duplicates(tmp_path):
    run = tiny_run(tmp_path / "vice-raq", reward="vice-raq")
    run.model.learn(150)  # fill the frame store
    frames = stored_frames(run)
    brightness = {img.tobytes(): float(img.mean()) for img in frames}
    classifier = FixedProbability(lambda img: brightness[img.tobytes()] / 255)
    oracle = ScriptedOracle(lambda q: (Answer(i, 0) for i in range(len(q.images))))
    store = LabelStore(tmp_path / "labels.sqlite", "t", "push")
    data = ClassifierData(run.goals)
    callback = QueryCallback(classifier, run.frames, data, oracle, store, per_round=3, budget=10)
    callback.init_callback(run.model)
    callback.ask_round()
    (query,) = oracle.queries
    assert len(query.keys) == 3 and len(set(query.keys.tolist())) == 3
    assert len({img.tobytes() for img in query.images}) == 3
    distinct = sorted(set(brightness.values()), reverse=True)
    assert query.probabilities[0] == pytest.approx(distinct[0] / 255)  # the top frame comes first
    assert np.all(np.diff(query.scores) <= 0)
    assert len(store) == 3 and len(data.negatives) == 3
    # A second round over the same frames asks nothing already asked.
    callback.last_key = 0
    callback.ask_round()
    assert not set(oracle.queries[1].keys.tolist()) & set(query.keys.tolist())


def test_answers_are_stored_before_they_are_used_and_undo_retracts(tmp_path):
    run = tiny_run(tmp_path / "vice-raq", reward="vice-raq")
    run.model.learn(150)
    store = LabelStore(tmp_path / "labels.sqlite", "t", "push")
    data = ClassifierData(run.goals)

    def answers(query):
        yield Answer(0, 1)
        assert len(store) == 1 and len(data.positives) == 1  # stored, then used
        yield Answer(1, 0)
        yield Answer(1, None, undo=True)
        yield Answer(2, None)  # skip

    callback = QueryCallback(
        run.classifier, run.frames, data, ScriptedOracle(answers), store, per_round=3, budget=10
    )
    callback.init_callback(run.model)
    callback.ask_round()
    assert [a.label for a in store.answers()] == [1]
    assert len(store.answers(include_skipped=True)) == 2
    assert len(data.positives) == 1 and len(data.negatives) == 0


@pytest.mark.parametrize(
    ("task", "reward", "overrides"),
    [("push", reward, {}) for reward in REWARD_MODES.names()]
    + [("drape", "vice-raq", {}), ("push", "vice-raq", {"classifier_retrain": "scratch"})],
)
def test_end_to_end_run_writes_every_output(tmp_path, task, reward, overrides):
    video = reward == "vice-raq"
    run = tiny_run(tmp_path / reward, reward=reward, task=task, video=video, **overrides)
    summary = run.train()
    out = tmp_path / reward
    saved = checkpoint.latest(out).name
    assert checkpoint.read_state(out / saved)["step"] == 300
    expected = [
        "config.json",
        "metrics.csv",
        "success.png",
        f"{saved}/learner.pt",
        f"{saved}/replay.npz",
        f"{saved}/frames.npy",
        "summary.json",
        "labels.sqlite",
        "goals.npz",
        "goals.png",
    ]
    if reward == "vice-raq":
        expected.append("queries.png")  # every asked frame, its answer and P(success)
    if reward in ("vice-raq", "vice", "classifier"):
        expected.append(f"{saved}/classifier.pt")
    if video:
        expected.append("policy.mp4")
    for name in expected:
        assert (out / name).exists(), name
    assert list((out / "logs").glob("events.out.tfevents.*"))
    assert summary["steps"] == 300
    rows = metrics.read_metrics(out / "metrics.csv")
    assert [r["step"] for r in rows] == [150, 300]
    # The simulated oracle answers at once: nothing waits, nothing is skipped, no person's time.
    assert [(r["pending"], r["skipped"], r["corrected"], r["person_s"]) for r in rows] == [
        (0, 0, 0, 0)
    ] * 2
    if reward == "vice-raq":
        assert summary["labels"] > 0
        # Ground truth reached learning only through the oracle, for the frames it was asked about.
        assert run.tap.lookups == len(run.store.answers(include_skipped=True))
        # The saved policy is the trained one: the same seeded episodes, the same outcome.
        evaluated = evaluation.evaluate(out, episodes=2, video=False)
        in_memory = evaluation.rollout_success(run.model, run._policy_env(run.obs_stats()), 2)
        assert evaluated["success_rate"] == in_memory


def test_resume_continues_steps_and_keeps_every_label(tmp_path):
    first = tiny_run(tmp_path / "vice-raq", reward="vice-raq", steps=200)
    first.train()
    labels = [(a.id, a.label) for a in first.store.answers()]
    assert labels
    config = run_config.load_run_config(tmp_path / "vice-raq")
    config.steps = 400
    second = agent.TrainingRun(config, resume=True)
    assert second.model.num_timesteps == 200
    assert second.labels_used == len(labels)
    summary = second.train()
    assert summary["steps"] == 400
    assert [(a.id, a.label) for a in second.store.answers()][: len(labels)] == labels
    assert summary["labels"] >= len(labels)


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


def test_metrics_of_an_older_run_gain_the_new_columns_empty(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,success_rate,labels\n100,0.5,2\n")
    metrics.append_metrics(path, {"step": 200, "success_rate": 1.0, "labels": 3, "pending": 1})
    old, new = metrics.read_metrics(path)
    assert (old["labels"], new["pending"]) == (2, 1) and np.isnan(old["pending"])


def test_each_task_gets_its_own_settings_and_flags_win_on_the_command_line(tmp_path, monkeypatch):
    assert run_config.task_config("push") == run_config.TrainConfig()
    drape = run_config.task_config("drape")
    assert drape.steps == 50_000 and drape.steps != run_config.TrainConfig().steps
    built = []

    def capture(config, **kwargs):
        built.append(config)
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(agent, "TrainingRun", capture)
    argv = ["train", "drape", "--learning-rate", "3e-4", "--out", str(tmp_path / "r")]
    assert main(argv) == 130
    (config,) = built
    assert (config.steps, config.learning_rate) == (50_000, 3e-4)
    # Resuming keeps the run's own settings: flags left out are not the defaults.
    (tmp_path / "r").mkdir()
    save_config(config, tmp_path / "r" / "config.json")
    assert main(["train", "--resume", str(tmp_path / "r")]) == 130
    assert built[-1] == config


class TruthGuard(dict):
    """An info dict that records which function reads ``is_success`` out of it."""

    reads: list = []

    def _note(self, key):
        if key == "is_success" and key in self:  # a read that finds ground truth
            caller = sys._getframe(2)
            TruthGuard.reads.append(f"{caller.f_globals['__name__']}.{caller.f_code.co_qualname}")

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def pop(self, key, *default):
        self._note(key)
        return super().pop(key, *default)


@pytest.fixture
def guarded_training_env(monkeypatch):
    """Every ``info`` of every Push env is a TruthGuard; returns the list of reads."""
    import envs.base

    original = envs.base.MujocoTaskEnv.step

    def guarded_step(self, action):
        obs, reward, terminated, truncated, info = original(self, action)
        return obs, reward, terminated, truncated, TruthGuard(info)

    monkeypatch.setattr(envs.base.MujocoTaskEnv, "step", guarded_step)
    TruthGuard.reads = []
    return TruthGuard.reads


def test_learner_never_reads_ground_truth(tmp_path, guarded_training_env):
    """During training only the tap (for the simulated oracle) and evaluation read is_success."""
    run = tiny_run(tmp_path / "vice-raq", reward="vice-raq")
    run.train()
    # gym.make's passive checker inspects the first step's info values; it is not the learner.
    readers = {r for r in guarded_training_env if not r.startswith("gymnasium.utils.passive_env")}
    assert "reward_learning.oracles.GroundTruthTap.step" in readers
    allowed = {
        "reward_learning.oracles.GroundTruthTap.step",  # the one crossing (training env)
        "stable_baselines3.common.callbacks.EvalCallback._log_success_callback",  # evaluation
    }
    assert readers <= allowed, readers - allowed
    assert run.tap.lookups == len(run.store.answers(include_skipped=True))


def test_the_ground_truth_guard_catches_a_leak(tmp_path, guarded_training_env):
    class Leak(gym.Wrapper):
        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            return obs, reward + info["is_success"], terminated, truncated, info

    run = tiny_run(tmp_path / "vice-raq", reward="vice-raq")
    run.tap.env = Leak(run.tap.env)  # a learner-side wrapper that peeks at ground truth
    run.model.learn(20)
    assert any(r.endswith("Leak.step") for r in guarded_training_env)


def test_exploration_negatives_update_the_classifier_only_when_answers_arrive(tmp_path):
    exploration = {"policy_negatives": "exploration"}
    unanswered = tiny_run(
        tmp_path / "later" / "vice-raq", reward="vice-raq", oracle="later", **exploration
    )
    unanswered.train()
    assert unanswered.classifier.version == 1  # trained once, then nothing new to learn from
    answered = tiny_run(tmp_path / "simulated" / "vice-raq", reward="vice-raq", **exploration)
    answered.train()
    assert answered.labels_used > 0 and answered.classifier.version > 1
    vice = tiny_run(tmp_path / "vice" / "vice", reward="vice")
    vice.train()
    assert vice.classifier.version > 1  # VICE: every `classifier_every` steps
