"""SAC or TQC on a learned reward: the training run behind ``reward-learning train``.

The policy reads what ``--policy-input`` names (the state vector, or camera frames and maybe
the robot's proprioception: :mod:`reward_learning.learner.pixels`); the reward only ever reads images. Everything the method adds to SAC is a callback: classifier
updates (:mod:`reward_learning.reward.vice`), success queries (:mod:`reward_learning.questions.queries`),
evaluation, checkpoints (:mod:`reward_learning.run.checkpoint`) and the metrics file.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.logger import Logger, make_output_format
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecNormalize

from reward_learning.config import save_config
from reward_learning.frames import (
    FrameRecorder,
    FrameStore,
)
from reward_learning.learner.algorithms import (
    OBS_STATS,
    make_learner,
    normalized_like_training,
    obs_rms,
    policy_vec_env,
)
from reward_learning.questions import ORACLES, QUERY_STRATEGIES
from reward_learning.questions.labels import LabelStore
from reward_learning.questions.live_labels import PendingAnswers
from reward_learning.questions.oracles import GroundTruthTap, WindowOracle
from reward_learning.questions.queries import QueryCallback, ScoreFn
from reward_learning.reward import REWARD_MODES
from reward_learning.reward.classifier import SuccessClassifier
from reward_learning.reward.goals import load_goal_images, render_goals
from reward_learning.reward.modes import RewardMode
from reward_learning.reward.vice import ClassifierCallback, ClassifierData, LearnedRewardWrapper
from reward_learning.reward.visibility import VisibilityCheck
from reward_learning.run import checkpoint, directory
from reward_learning.run.directory import RunLock
from reward_learning.run.evaluation import record_video, rollout
from reward_learning.run.gallery import plot_goals, plot_queries
from reward_learning.run.metrics import (
    append_metrics,
    keep_metrics_until,
    plot_metrics,
    read_metrics,
)
from reward_learning.run.settings import TrainConfig, validate
from reward_learning.tasks import POLICY_INPUTS
from reward_learning.tasks.make import make_env, make_policy_env, task_traits
from reward_learning.tasks.scenes import SceneView, scene_state
from reward_learning.tasks.views import policy_view


class MetricsCallback(BaseCallback):
    """After each evaluation: a row of ``metrics.csv`` (step, success rate, labels, wall time)."""

    def __init__(self, path: Path, run: TrainingRun) -> None:
        super().__init__()
        self.path = path
        self.run = run

    def _on_step(self) -> bool:
        assert isinstance(self.parent, EvalCallback)
        row = self.run.metrics_row(
            float(np.mean(self.parent.evaluations_successes[-1])),
            float(self.parent.last_mean_reward),
        )
        append_metrics(self.path, row)
        self.logger.record("time/reward_share", row["reward_s"] / max(row["wall_s"], 1e-9))
        for name in ("labels", "pending", "skipped", "corrected", "person_s"):
            self.logger.record(f"labels/{name}", row[name])
        return True


class TrainingRun:
    """Builds everything a run needs and trains it; a run directory holds all its state.

    Args:
        config: the run's settings (checked first, before any file changes).
        resume: continue the run in ``config.out`` from its latest checkpoint.
        overwrite: start over in an ``out`` that holds a run (its own files only).
        mode: the reward mode, built; default: ``config.reward`` from ``REWARD_MODES``.
        score: the query strategy; default: ``config.query_strategy`` from
            ``QUERY_STRATEGIES``.
    """

    def __init__(
        self,
        config: TrainConfig,
        resume: bool = False,
        overwrite: bool = False,
        mode: RewardMode | None = None,
        score: ScoreFn | None = None,
    ) -> None:
        validate(config)
        self.config = config
        self.mode = mode or REWARD_MODES.build(config.reward, config)
        self.score = QUERY_STRATEGIES.get(config.query_strategy) if score is None else score
        self.out = Path(config.out)
        if resume:
            self.lock = RunLock(self.out)
            saved = checkpoint.latest(self.out)
        else:
            directory.check_new_dir(self.out, directory.RUN_ENTRIES, overwrite, "run")
            directory.create(self.out)
            self.lock = RunLock(self.out)
            directory.clear(self.out, directory.RUN_ENTRIES)
            saved = None
        torch.set_num_threads(config.threads)
        if config.steps <= config.learning_starts:
            print(
                f"note: --steps {config.steps} <= --learning-starts {config.learning_starts}: "
                "the policy acts at random for the whole run",
                file=sys.stderr,
            )
        self._started = time.perf_counter()
        self._earlier_wall = 0.0
        self._earlier_reward = 0.0
        self._earlier_person = 0.0
        self.make_classifier = functools.partial(
            SuccessClassifier,
            mixup_alpha=config.classifier_mixup,
            shift=config.classifier_shift,
            label_smoothing=config.label_smoothing,
            seed=config.seed,
            device=config.device,
        )
        self.classifier = self.make_classifier()
        self.goals = self._goal_images()
        self.data = ClassifierData(self.goals)
        size = config.image_size
        self.frames = FrameStore((size, size, 3))
        if saved:
            with checkpoint.reading(saved):
                self.frames = FrameStore.load(saved / "frames.npy")
        recorded = FrameRecorder(
            make_env(config.task, "dict", size, config.env_kwargs), self.frames, scene_state,
            file_resets=POLICY_INPUTS.build(config.policy_input).pixels,
        )  # fmt: skip
        self.tap = GroundTruthTap(recorded)
        self.success_source = (
            "ground truth" if task_traits(config.task, config.env_kwargs).has_success
            else "classifier"
        )  # fmt: skip
        self.reward_fn = self.mode.make_reward(self.classifier, self.goals)
        self.rewarded = (
            None if self.reward_fn is None else LearnedRewardWrapper(self.tap, self.reward_fn)
        )
        # sparse: the upper reference learns from ground truth itself
        self.env = policy_view(self.rewarded or recorded, config.policy_input, config.proprio)
        self.venv = policy_vec_env(lambda: self.env, config)
        self.answering = ORACLES.build(
            config.oracle, config, self.tap.truth, SceneView(config.task, config.env_kwargs)
        )
        self.model = make_learner(config, self.venv, self.frames)
        self.classifier_callback: ClassifierCallback | None = None
        self.success_check: VisibilityCheck | None = None
        self.query_callback: QueryCallback | None = None
        self.pending_answers: PendingAnswers | None = None
        self._callback_states: dict[str, Any] = {}  # from a checkpoint, for _callbacks()
        if saved:
            self._restore(saved)
        # Opened after the checkpoint is read: a resume refused for a damaged checkpoint leaves
        # the store's files as they were (closing it would fold a killed run's -wal file in).
        self.store = LabelStore(self.out / "labels.sqlite", run=self.out.name, task=config.task)
        self._load_labels()
        if saved:  # the resume's first write, once every file it reads has been read
            keep_metrics_until(self.out / "metrics.csv", self.model.num_timesteps)
        self.model.set_logger(session_logger(self.out / "logs", self.model.num_timesteps))

    # -- construction -------------------------------------------------------------------

    def _goal_images(self) -> np.ndarray:
        c = self.config
        saved = self.out / "goals.npz"
        if saved.exists():  # a resumed run keeps the goals it started with
            with np.load(saved, allow_pickle=False) as stored:
                return np.asarray(stored["images"])
        if c.goal_dir is not None:
            goals = load_goal_images(c.goal_dir, c.image_size)
        else:
            goals = render_goals(
                c.task, c.goals, c.image_size, seed=10_000 + c.seed, progress=c.progress,
                env_kwargs=c.env_kwargs,
            )  # fmt: skip
        np.savez_compressed(self.out / "goals.npz", images=goals)
        return goals

    def _callbacks(self, after_evaluation: tuple[BaseCallback, ...] = ()) -> CallbackList:
        c = self.config
        callbacks: list[BaseCallback] = []
        if self.mode.asks:
            self.query_callback = QueryCallback(
                self.classifier, self.frames, self.data, self.answering.asks, self.store,
                self.score, start=c.learning_starts + c.queries_every,
                every=c.queries_every, per_round=c.queries_per_round, budget=c.label_budget,
                first_key=self.frames.size,
            )  # fmt: skip
            callbacks.append(self.query_callback)
            if self.answering.answers_pending is not None:
                self.pending_answers = self.answering.answers_pending(
                    self.store, self.data, self.query_callback
                )
                callbacks.append(self.pending_answers)
        updates = self.mode.classifier_updates
        if updates is not None:
            assert self.reward_fn is not None, "a classifier that learns defines the reward"
            self.classifier_callback = ClassifierCallback(
                self.classifier, self.reward_fn, self.frames, self.data, start=c.learning_starts,
                every=updates.every, steps=c.classifier_steps,
                policy_negatives=updates.policy_negatives,
                oracle_negative_share=c.oracle_negative_share, retrain=c.classifier_retrain,
                seed=c.seed,
            )  # fmt: skip
            callbacks.append(self.classifier_callback)
            if c.success_check_folds and len(self.goals) >= 2 and self.classifier.version == 0:
                self.success_check = VisibilityCheck(
                    self.classifier, self.frames, self.goals, self.make_classifier,
                    steps=self.classifier_callback.first_steps, folds=c.success_check_folds,
                    seed=c.seed, plot=lambda goals, frames: plot_goals(
                        goals, self.out / "goals.png", frames
                    ),
                )  # fmt: skip
                callbacks.append(self.success_check)
        for name, callback in self._stateful_callbacks():
            if name in self._callback_states:
                callback.load_state_dict(self._callback_states[name])
        eval_env = policy_vec_env(
            lambda: Monitor(self._policy_env()),
            c,
            training=False,
        )
        evaluation = EvalCallback(
            eval_env, n_eval_episodes=c.eval_episodes, eval_freq=c.eval_every,
            log_path=str(self.out / "eval"), deterministic=True, verbose=0,
            callback_after_eval=CallbackList(
                [MetricsCallback(self.out / "metrics.csv", self), CheckpointCallback(self),
                 *after_evaluation]
            ),
        )  # fmt: skip
        # EvalCallback evaluates when its call count is a multiple of eval_freq: counted from
        # step 0, a run resumed from a Ctrl-C checkpoint evaluates where an unbroken one would.
        evaluation.n_calls = self.model.num_timesteps
        callbacks.append(evaluation)
        return CallbackList(callbacks)

    def _load_labels(self) -> None:
        """Give the classifier every answer in the store (a resumed run's, or imported ones)."""
        shape = (self.config.image_size, self.config.image_size, 3)
        unusable = []
        for answer in self.store.answers():
            if answer.image.shape != shape:  # a store written before imports were checked
                unusable.append(answer.id)
                continue
            self.data.add(answer.id, answer.image, bool(answer.label))
        if unusable:
            print(
                f"warning: {self.store.path}: answers {', '.join(map(str, unusable))} hold images "
                f"that are not {shape[0]}x{shape[1]} RGB; skipped (relabel those frames)",
                file=sys.stderr,
            )

    def _restore(self, saved: Path) -> None:
        """Continue from the latest checkpoint."""
        with checkpoint.reading(saved):
            state = checkpoint.read_state(saved)
            checkpoint.load_learner_state(self.model, saved / "learner.pt")
            with np.load(saved / "replay.npz", allow_pickle=False) as arrays:
                checkpoint.load_buffer_arrays(self.model.replay_buffer, arrays)
            self.model.num_timesteps = int(state["step"])
            if (saved / "classifier.pt").exists():
                self.classifier.load(saved / "classifier.pt")
            if isinstance(self.venv, VecNormalize):
                stats = obs_rms(self.venv)
                stats.mean, stats.var, stats.count = checkpoint.load_obs_stats(saved / OBS_STATS)
            self._earlier_wall = float(state["wall_s"])
            self._earlier_reward = float(state["reward_s"])
            self._earlier_person = float(state.get("person_s", 0.0))  # older checkpoints lack it
            if "numpy_global" in state:  # checkpoints from before the streams were kept lack it
                checkpoint.set_numpy_global_state(state["numpy_global"])
            simulated = self.answering.simulated
            if state.get("oracle_rng") and simulated is not None:
                simulated.rng.bit_generator.state = state["oracle_rng"]
            self._callback_states = {k: state[k] for k in ("queries", "classifier") if k in state}

    def _stateful_callbacks(self) -> list[tuple[str, QueryCallback | ClassifierCallback]]:
        """The callbacks of this session whose counters a checkpoint keeps, by name."""
        named = (("queries", self.query_callback), ("classifier", self.classifier_callback))
        return [(name, callback) for name, callback in named if callback is not None]

    def checkpoint(self) -> Path:
        """Write everything a resume needs (the label store is durable already)."""
        files: dict[str, Callable[[Path], None]] = {"frames.npy": self.frames.save}
        if self.mode.classifier_updates is not None:
            files["classifier.pt"] = self.classifier.save
        if isinstance(self.venv, VecNormalize):
            files[OBS_STATS] = functools.partial(checkpoint.save_obs_stats, self.venv)
        state: dict[str, Any] = {
            "wall_s": self.wall_seconds(),
            "reward_s": self.reward_seconds(),
            "person_s": self.person_seconds(),
            "numpy_global": checkpoint.numpy_global_state(),
            "oracle_rng": None
            if self.answering.simulated is None
            else self.answering.simulated.rng.bit_generator.state,
        }
        for name, callback in self._stateful_callbacks():
            state[name] = callback.state_dict()
        return checkpoint.save(self.out, self.model.num_timesteps, self.model, files, state)

    # -- bookkeeping --------------------------------------------------------------------

    @property
    def labels_used(self) -> int:
        """Oracle answers (not skips) folded into the classifier so far."""
        return self.data.n_answers

    def wall_seconds(self) -> float:
        """Wall time of the run, earlier sessions included."""
        return self._earlier_wall + time.perf_counter() - self._started

    def reward_seconds(self) -> float:
        """Time in the reward machinery: per-step rewards, classifier updates, relabelling, queries."""
        seconds = self._earlier_reward
        if self.rewarded is not None:
            seconds += self.rewarded.seconds
        for callback in (self.classifier_callback, self.query_callback, self.success_check):
            if callback is not None:
                seconds += callback.seconds
        return seconds

    def person_seconds(self) -> float:
        """Seconds a person spent on the questions in a window, earlier sessions included."""
        seconds = self._earlier_person
        if isinstance(self.answering.asks, WindowOracle):
            seconds += self.answering.asks.seconds_answering
        if self.pending_answers is not None:
            seconds += self.pending_answers.seconds_answering
        return seconds

    # -- running ------------------------------------------------------------------------

    def train(
        self,
        extra_callbacks: tuple[BaseCallback, ...] = (),
        after_evaluation: tuple[BaseCallback, ...] = (),
    ) -> dict[str, Any]:
        """Train to ``config.steps`` env steps, checkpointing; return the summary.

        Ctrl-C writes a checkpoint before it propagates: ``--resume`` continues from there.
        The run directory's lock is held until this returns or raises.

        Args:
            extra_callbacks: run after the method's own at every step (a benchmark's
                diagnostics).
            after_evaluation: run after each evaluation, once its row is in ``metrics.csv``
                and its checkpoint written (a sweep's report to Ray Tune).
        """
        try:
            save_config(self.config, self.out / "config.json")
            remaining = self.config.steps - self.model.num_timesteps
            if remaining > 0:
                callbacks = self._callbacks(after_evaluation)
                callbacks.callbacks.extend(extra_callbacks)
                try:
                    self.model.learn(
                        remaining, callback=callbacks, progress_bar=self.config.progress,
                        reset_num_timesteps=self.model.num_timesteps == 0,
                    )  # fmt: skip
                except KeyboardInterrupt:
                    self.checkpoint()
                    raise
            rows = read_metrics(self.out / "metrics.csv")
            if not rows or rows[-1]["step"] != self.model.num_timesteps:
                self._final_evaluation()  # a run shorter than the evaluation interval
            self.checkpoint()
            plot_metrics(self.out, self.success_source)
            if not (self.out / "goals.png").exists():  # the success check drew it with frames
                plot_goals(self.goals, self.out / "goals.png")
            asked = self.store.answers(include_skipped=True)
            if asked:
                plot_queries(asked, self.out / "queries.png")
            if self.config.video:
                record_video(self.model, self.config, self.out / "policy.mp4", self.obs_stats())
            return self.summary()
        finally:
            self.lock.release()  # the directory is free for a resume or `evaluate`

    def _policy_env(
        self, obs_stats: tuple[np.ndarray, np.ndarray] | None = None
    ) -> gym.Env[Any, Any]:
        """An evaluation env; success is the classifier's verdict where the env reports none."""
        c = self.config
        env = make_policy_env(
            c.task, c.policy_input, c.image_size,
            None if self.success_source == "ground truth" else self.classifier.is_success,
            c.env_kwargs, c.proprio,
        )  # fmt: skip
        return normalized_like_training(env, c, obs_stats)

    def _final_evaluation(self) -> None:
        c = self.config
        env = self._policy_env(self.obs_stats())
        try:
            success, mean_return = rollout(self.model, env, c.eval_episodes)
        finally:
            env.close()
        append_metrics(self.out / "metrics.csv", self.metrics_row(success, mean_return))

    def metrics_row(self, success_rate: float, eval_return: float) -> dict[str, float]:
        """The row of ``metrics.csv`` for an evaluation at the current step."""
        counts = self.store.counts()
        return {
            "step": self.model.num_timesteps,
            "success_rate": success_rate,
            "eval_return": eval_return,
            "labels": self.labels_used,
            "wall_s": round(self.wall_seconds(), 1),
            "reward_s": round(self.reward_seconds(), 1),
            "pending": counts.pending,
            "skipped": counts.skipped,
            "corrected": counts.corrected,
            "person_s": round(self.person_seconds(), 1),
        }

    def obs_stats(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(mean, var)`` of the policy's observations when it reads them normalized."""
        if not isinstance(self.venv, VecNormalize):
            return None
        stats = obs_rms(self.venv)
        return stats.mean, stats.var

    def summary(self) -> dict[str, Any]:
        """Final numbers of the run, as written to ``summary.json`` (``null`` where none)."""
        rows = read_metrics(self.out / "metrics.csv")
        summary = {
            "task": self.config.task,
            "reward": self.config.reward,
            "steps": self.model.num_timesteps,
            "success_rate": rows[-1]["success_rate"] if rows else None,
            "success_source": self.success_source,
            "labels": self.labels_used,
            **{f"labels_{k}": v for k, v in self.store.counts()._asdict().items()},
            "person_s": round(self.person_seconds(), 1),
            "goal_images": len(self.goals),
            "wall_s": round(self.wall_seconds(), 1),
            "reward_share": round(self.reward_seconds() / max(self.wall_seconds(), 1e-9), 3),
        }
        checkpoint.atomic_write(
            self.out / "summary.json", (json.dumps(summary, indent=2) + "\n").encode()
        )
        return summary


class CheckpointCallback(BaseCallback):
    """After each evaluation: a checkpoint of the run (:mod:`reward_learning.run.checkpoint`)."""

    def __init__(self, run: TrainingRun) -> None:
        super().__init__()
        self.run = run

    def _on_step(self) -> bool:
        self.run.checkpoint()
        return True


def session_logger(folder: Path, step: int) -> Logger:
    """SB3's logger for a session starting at ``step``: TensorBoard, and a CSV of its own.

    SB3 opens ``progress.csv`` for writing, so a resumed session writes
    ``progress-from-STEP.csv`` and the earlier sessions' rows stay.
    """
    suffix = "" if step == 0 else f"-from-{step}"
    formats = [make_output_format(f, str(folder), suffix) for f in ("csv", "tensorboard")]
    return Logger(str(folder), formats)
