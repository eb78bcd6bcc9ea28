"""A training run end to end: every output, resume, and ground truth kept from the learner."""

import sys

import gymnasium as gym
import pytest

from reward_learning.reward import REWARD_MODES
from reward_learning.run import checkpoint, evaluation, metrics, settings, training
from tests.conftest import tiny_run


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
    config = settings.load_run_config(tmp_path / "vice-raq")
    config.steps = 400
    second = training.TrainingRun(config, resume=True)
    assert second.model.num_timesteps == 200
    assert second.labels_used == len(labels)
    summary = second.train()
    assert summary["steps"] == 400
    assert [(a.id, a.label) for a in second.store.answers()][: len(labels)] == labels
    assert summary["labels"] >= len(labels)


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
    assert "reward_learning.questions.oracles.GroundTruthTap.step" in readers
    allowed = {
        "reward_learning.questions.oracles.GroundTruthTap.step",  # the one crossing (training env)
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
