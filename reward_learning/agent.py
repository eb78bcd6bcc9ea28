"""SB3 SAC on a learned reward: the training run behind ``reward-learning train``.

The policy reads the state vector (fast on a CPU) or the image (a CNN, for GPU users); the
reward only ever reads images. Everything the method adds to SAC is a callback: classifier
updates (:mod:`reward_learning.vice`), success queries (:mod:`reward_learning.queries`),
evaluation, checkpoints and the metrics file.
"""

from __future__ import annotations

import csv
import functools
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import TQC
from stable_baselines3 import SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, EvalCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize, VecTransposeImage

from reward_learning import checkpoint
from reward_learning.classifier import SuccessClassifier
from reward_learning.config import check_ranges, save_config
from reward_learning.errors import UserInputError
from reward_learning.frames import (
    FrameDictReplayBuffer,
    FrameNStepReplayBuffer,
    FrameRecorder,
    FrameReplayBuffer,
    FrameStore,
)
from reward_learning.goals import load_goal_images, render_goals
from reward_learning.labels import LabelStore
from reward_learning.oracles import (
    GroundTruthTap,
    LaterOracle,
    Oracle,
    SimulatedOracle,
    require_display,
    success_window_oracle,
)
from reward_learning.queries import QUERY_STRATEGIES, QueryCallback
from reward_learning.tasks import POLICY_INPUTS, TASKS, make_env, make_policy_env, policy_view
from reward_learning.vice import (
    POLICY_NEGATIVES,
    RETRAIN_MODES,
    REWARD_FORMS,
    ClassifierCallback,
    ClassifierData,
    ClassifierReward,
    LearnedRewardWrapper,
    PixelL2Reward,
    RewardFn,
)

REWARD_MODES: tuple[str, ...] = ("vice-raq", "vice", "classifier", "sparse", "pixel-l2")
ORACLES: tuple[str, ...] = ("simulated", "human", "later")
TRAIN_CHOICES: dict[str, tuple[str, ...]] = {
    "task": TASKS,
    "reward": REWARD_MODES,
    "oracle": ORACLES,
    "query_strategy": QUERY_STRATEGIES,
    "policy_input": POLICY_INPUTS,
    "policy_negatives": POLICY_NEGATIVES,
    "classifier_retrain": RETRAIN_MODES,
    "reward_form": REWARD_FORMS,
    "algo": ("sac", "tqc"),
}


@dataclass
class TrainConfig:
    """One training run (the ``reward-learning train`` command)."""

    task: str = "push"
    """The task: push or drape (drape has its own defaults for steps, learning_rate and
    gradient_steps: TASK_SETTINGS)."""
    reward: str = "vice-raq"
    """vice-raq (classifier + queries), vice (no queries), classifier (trained once, frozen),
    sparse (ground-truth success, the upper reference) or pixel-l2 (distance to the mean goal)."""
    oracle: str = "simulated"
    """Who answers success queries: simulated (reads the simulator's ground truth), human (an
    OpenCV window; needs a display) or later (frames are saved for `reward-learning label`)."""
    oracle_error: float = 0.0
    """Probability that the simulated oracle answers wrongly."""
    steps: int = 20_000
    """Env steps of training (drape: 50,000). Push at the defaults: 100% at 10k on four of five
    seeds; seed 0 reached 100% at 15k (benchmarks/README.md)."""
    goals: int = 20
    """Goal images rendered from random success states (when --goal-dir is unset)."""
    goal_dir: str | None = None
    """Folder of PNG/JPEG goal images to use instead of rendered ones."""
    queries_every: int = 1000
    """Env steps between query rounds."""
    queries_per_round: int = 2
    """Frames asked per round."""
    label_budget: int = 40
    """Total success labels the run may ask for."""
    query_strategy: str = "most-likely-success"
    """most-likely-success (the paper's), least-confident, entropy or bald."""
    classifier_every: int = 1000
    """Env steps between classifier updates (VICE)."""
    classifier_steps: int = 20
    """Adam steps per classifier update (warm retraining; the first update takes 200)."""
    classifier_retrain: str = "warm"
    """warm (each update continues training) or scratch (each update retrains from the seeded
    initial weights for 200 steps, so the classifier does not sharpen update by update)."""
    policy_negatives: str = "exploration"
    """vice-raq's failures besides the oracle's: exploration (frames of the random-action phase;
    the classifier then changes only when answers arrive) or replay (VICE's: the whole buffer,
    the latest policy included; measured worse, see benchmarks/README.md). The vice mode always
    uses replay, as published."""
    oracle_negative_share: float = 0.5
    """Share of the classifier's negatives drawn from frames the oracle called failure (at
    most; the rest are policy frames). 0 draws them as often as any single policy frame."""
    reward_form: str = "log-p"
    """The learned reward: log-p (log p(success), floored at -10) or logit (VICE-RAQ's: the
    classifier's logit, clipped to [-10, 10]; it keeps rising inside the goal region, where log p
    is flat, but ended lower on Push over three seeds: benchmarks/README.md)."""
    reward_scale: float = 1.0
    """Multiplies the learned reward."""
    label_smoothing: float = 0.0
    """Classifier targets become eps/2 and 1 - eps/2 (SERL): bounds how far a confident
    classifier pushes the reward of policy frames down."""
    gradient_steps: int = 2
    """SAC gradient steps per env step (drape: 1). 2 on Push: 88% over six seeds at 20k against
    42% over three with 1, at about 1.6x the wall time (benchmarks/README.md)."""
    algo: str = "sac"
    """The policy's learner: sac (Stable-Baselines3) or tqc (sb3-contrib's truncated quantile
    critics; same API, five distributional critics)."""
    ent_coef: str = "auto"
    """Entropy coefficient: auto (learned, starting at 1.0), auto_X (learned, starting at X) or
    a fixed number (SB3's convention)."""
    gamma: float = 0.99
    """Discount factor."""
    n_steps: int = 1
    """n-step returns for the critics (1: SAC's one-step targets); state policies only."""
    normalize_obs: bool = True
    """Normalize the policy's state vector by its running mean and variance (SB3's VecNormalize,
    RL Zoo's `normalize`); the statistics go with every checkpoint. On Push it took seeds 1 and 2
    from 24% and 38% to 100% at 10k (benchmarks/README.md)."""
    learning_rate: float = 1e-3
    """Adam learning rate of SAC's actor, critics and entropy coefficient (drape: 3e-4). On Push
    SB3's 3e-4 learned in 20k steps on fewer seeds, even from a hand-made dense reward
    (benchmarks/README.md)."""
    image_size: int = 48
    """Side of the images the reward sees, in pixels (VICE-RAQ used 48)."""
    policy_input: str = "state"
    """state (MLP, fast on CPU) or image (CNN; for GPU users)."""
    learning_starts: int = 1000
    """Random-action steps before SAC and the classifier start."""
    eval_every: int = 2500
    """Env steps between evaluations."""
    eval_episodes: int = 50
    """Episodes per evaluation (ground-truth success at the episode's end); with 20 a 65% policy
    reads anywhere from 45% to 85% (a binomial 95% interval), with 50 from 52% to 78%."""
    seed: int = 0
    """Seed of env, SAC, classifier and goals."""
    device: str = "auto"
    """auto, cpu or cuda."""
    threads: int = 1
    """Torch threads of this run (torch's default is one per core, which collapsed two runs
    sharing a machine about 50x: benchmarks/README.md)."""
    progress: bool = True
    """Show SB3's progress bar."""
    video: bool = True
    """Record a video of the final policy (policy.mp4)."""
    out: str = "runs/push"
    """Run directory (the command line's default: runs/TASK); a new run refuses one that holds
    a run (--resume or --overwrite)."""


ALGOS: dict[str, type[SAC] | type[TQC]] = {"sac": SAC, "tqc": TQC}

OBS_STATS = "obs_stats.npz"  # a checkpoint's observation statistics (normalize_obs)
STATE_KEYS: dict[str, list[str] | None] = {"state": None, "image": ["state"]}
"""What VecNormalize normalizes: the whole (flat) observation, or a dict's state vector."""

TASK_SETTINGS: dict[str, dict[str, Any]] = {
    "push": {},
    "drape": {"steps": 50_000, "learning_rate": 3e-4, "gradient_steps": 1, "normalize_obs": False},
}
"""Each task's departures from ``TrainConfig``'s defaults, as RL Zoo keeps hyperparameters per
env. Drape: SAC's learning rate of 1e-3 reached 65% and 100% and then fell to 20% and 25% by
50k, where 3e-4 ended at 100%, 35% and 100%; two gradient steps per env step and normalized
observations are unmeasured there (benchmarks/README.md)."""


RESUMABLE: tuple[str, ...] = (
    "steps", "label_budget", "oracle", "oracle_error", "eval_every", "eval_episodes",
    "threads", "device", "progress", "video",
)  # fmt: skip
"""The settings a resumed run may change; the rest define the run."""

RANGES: dict[str, tuple[float, float]] = {
    "steps": (1, float("inf")),
    "goals": (1, 10_000),
    "queries_every": (1, float("inf")),
    "queries_per_round": (1, 1_000),
    "label_budget": (0, float("inf")),
    "classifier_every": (1, float("inf")),
    "classifier_steps": (1, float("inf")),
    "oracle_error": (0.0, 1.0),
    "oracle_negative_share": (0.0, 0.99),
    "reward_scale": (1e-6, 1e6),
    "label_smoothing": (0.0, 0.99),
    "gradient_steps": (1, 1_000),
    "gamma": (0.0, 1.0),
    "n_steps": (1, 100),
    "learning_rate": (1e-8, 1.0),
    "image_size": (16, 512),
    "learning_starts": (0, float("inf")),
    "eval_every": (1, float("inf")),
    "eval_episodes": (1, 10_000),
    "threads": (1, 1_024),
}
"""Allowed ranges (inclusive) of the numeric ``TrainConfig`` fields."""


def validate(config: TrainConfig) -> None:
    """Check every choice and range of a config before any work starts.

    Raises:
        UserInputError: one line naming the field, the value, what is allowed.
    """
    for name, allowed in TRAIN_CHOICES.items():
        value = getattr(config, name)
        if value not in allowed:
            raise UserInputError(
                f"--{name.replace('_', '-')} {value!r}: expected one of {', '.join(allowed)}"
            )
    check_ranges(config, RANGES)
    entropy = config.ent_coef.removeprefix("auto").removeprefix("_") or "1"
    try:
        valid_entropy = float(entropy) > 0
    except ValueError:
        valid_entropy = False
    if not valid_entropy:
        raise UserInputError(
            f"--ent-coef {config.ent_coef!r}: expected auto, auto_X or a number X, with X > 0"
        )
    if config.n_steps > 1 and config.policy_input != "state":
        raise UserInputError(
            f"--n-steps {config.n_steps}: n-step returns need --policy-input state "
            "(SB3 has no n-step buffer for dict observations)"
        )
    if config.oracle == "human":
        require_display()


def task_config(task: str, **values: Any) -> TrainConfig:
    """The ``TrainConfig`` of ``task``: its ``TASK_SETTINGS``, then ``values`` over them."""
    return TrainConfig(task=task, **{**TASK_SETTINGS.get(task, {}), **values})


class MetricsCallback(BaseCallback):
    """After each evaluation: a row of ``metrics.csv`` (step, success rate, labels, wall time)."""

    def __init__(self, path: Path, run: TrainingRun) -> None:
        super().__init__()
        self.path = path
        self.run = run

    def _on_step(self) -> bool:
        assert isinstance(self.parent, EvalCallback)
        row = self.run._metrics_row(
            float(np.mean(self.parent.evaluations_successes[-1])),
            float(self.parent.last_mean_reward),
        )
        append_metrics(self.path, row)
        self.logger.record("time/reward_share", row["reward_s"] / max(row["wall_s"], 1e-9))
        return True


class TrainingRun:
    """Builds everything a run needs and trains it; a run directory holds all its state."""

    def __init__(
        self,
        config: TrainConfig,
        oracle: Oracle | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> None:
        validate(config)
        if config.steps <= config.learning_starts:
            print(
                f"note: --steps {config.steps} <= --learning-starts {config.learning_starts}: "
                "the policy acts at random for the whole run",
                file=sys.stderr,
            )
        self.config = config
        torch.set_num_threads(config.threads)
        self.out = Path(config.out)
        saved = checkpoint.latest(self.out) if resume else None
        if not resume:
            prepare_run_dir(self.out, overwrite)
        self._started = time.perf_counter()
        self._earlier_wall = 0.0
        self._earlier_reward = 0.0
        self.classifier = SuccessClassifier(
            label_smoothing=config.label_smoothing, seed=config.seed, device=config.device
        )
        self.goals = self._goal_images()
        self.data = ClassifierData(self.goals)
        self.store = LabelStore(self.out / "labels.sqlite", run=self.out.name, task=config.task)
        size = config.image_size
        self.frames = (
            FrameStore.load(saved / "frames.npy") if saved else FrameStore((size, size, 3))
        )
        recorded = FrameRecorder(
            make_env(config.task, obs_mode="dict", image_size=size), self.frames
        )
        self.tap = GroundTruthTap(recorded)
        self.reward_fn = self._reward_fn()
        self.rewarded = (
            None if self.reward_fn is None else LearnedRewardWrapper(self.tap, self.reward_fn)
        )
        # sparse: the upper reference learns from ground truth itself
        self.env = policy_view(self.rewarded or recorded, config.policy_input)
        self.venv: VecEnv = DummyVecEnv([lambda: self.env])
        if config.policy_input == "image":  # SB3's channel-first images, inside VecNormalize
            self.venv = VecTransposeImage(self.venv)
        if config.normalize_obs:
            self.venv = VecNormalize(
                self.venv,
                norm_reward=False,
                gamma=config.gamma,
                norm_obs_keys=STATE_KEYS[config.policy_input],
            )
        self.oracle = oracle or self._oracle()
        self.model = make_learner(config, self.venv)
        self.model.set_logger(configure(str(self.out / "logs"), ["csv", "tensorboard"]))
        self.classifier_callback: ClassifierCallback | None = None
        self.query_callback: QueryCallback | None = None
        self._callback_states: dict[str, Any] = {}  # from a checkpoint, for _callbacks()
        if resume:
            self._restore(saved)

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
                c.task, c.goals, c.image_size, seed=10_000 + c.seed, progress=c.progress
            )
        np.savez_compressed(self.out / "goals.npz", images=goals)
        return goals

    def _oracle(self) -> Oracle:
        c = self.config
        if c.oracle == "human":
            return success_window_oracle()
        if c.oracle == "later":
            return LaterOracle()
        return SimulatedOracle(self.tap.truth, 2, c.oracle_error, np.random.default_rng(c.seed))

    def _reward_fn(self) -> RewardFn | None:
        c = self.config
        if c.reward == "sparse":
            return None
        if c.reward == "pixel-l2":
            return PixelL2Reward(self.goals.astype(np.float32).mean(0) / 255)
        return ClassifierReward(self.classifier, scale=c.reward_scale, form=c.reward_form)

    def _callbacks(self) -> CallbackList:
        c = self.config
        callbacks: list[BaseCallback] = []
        if c.reward == "vice-raq":
            self.query_callback = QueryCallback(
                self.classifier, self.frames, self.data, self.oracle, self.store,
                c.query_strategy, start=c.learning_starts + c.queries_every,
                every=c.queries_every, per_round=c.queries_per_round, budget=c.label_budget,
                first_key=self.frames.size,
            )  # fmt: skip
            callbacks.append(self.query_callback)
        if c.reward in ("vice-raq", "vice", "classifier"):
            assert self.reward_fn is not None
            self.classifier_callback = ClassifierCallback(
                self.classifier, self.reward_fn, self.frames, self.data, start=c.learning_starts,
                every=None if c.reward == "classifier" else c.classifier_every,
                steps=c.classifier_steps,
                policy_negatives="replay" if c.reward == "vice" else c.policy_negatives,
                oracle_negative_share=c.oracle_negative_share, retrain=c.classifier_retrain,
            )  # fmt: skip
            callbacks.append(self.classifier_callback)
        for name, callback in (
            ("queries", self.query_callback),
            ("classifier", self.classifier_callback),
        ):
            if callback is not None and name in self._callback_states:
                callback.load_state_dict(self._callback_states[name])
        eval_env: VecEnv = DummyVecEnv(
            [lambda: Monitor(make_policy_env(c.task, c.policy_input, c.image_size))]
        )
        if c.policy_input == "image":
            eval_env = VecTransposeImage(eval_env)
        if c.normalize_obs:  # EvalCallback copies the training statistics in
            eval_env = VecNormalize(
                eval_env,
                training=False,
                norm_reward=False,
                norm_obs_keys=STATE_KEYS[c.policy_input],
            )
        callbacks.append(
            EvalCallback(
                eval_env, n_eval_episodes=c.eval_episodes, eval_freq=c.eval_every,
                log_path=str(self.out / "eval"), deterministic=True, verbose=0,
                callback_after_eval=CallbackList(
                    [MetricsCallback(self.out / "metrics.csv", self), CheckpointCallback(self)]
                ),
            )
        )  # fmt: skip
        return CallbackList(callbacks)

    def _restore(self, saved: Path | None) -> None:
        """Continue from the latest checkpoint (or from step 0 before the first), every label kept."""
        for answer in self.store.answers():
            self.data.add(answer.id, answer.image, bool(answer.label))
        if saved is None:
            return
        state = checkpoint.read_state(saved)
        checkpoint.load_learner_state(self.model, saved / "learner.pt")
        with np.load(saved / "replay.npz", allow_pickle=False) as arrays:
            checkpoint.load_buffer_arrays(self.model.replay_buffer, arrays)
        self.model.num_timesteps = int(state["step"])
        if (saved / "classifier.pt").exists():
            self.classifier.load(saved / "classifier.pt")
        if isinstance(self.venv, VecNormalize):
            stats = checkpoint.obs_rms(self.venv)
            stats.mean, stats.var, stats.count = checkpoint.load_obs_stats(saved / OBS_STATS)
        self._earlier_wall = float(state["wall_s"])
        self._earlier_reward = float(state["reward_s"])
        if "numpy_global" in state:  # checkpoints from before the streams were kept lack it
            checkpoint.set_numpy_global_state(state["numpy_global"])
        if state.get("oracle_rng") and isinstance(self.oracle, SimulatedOracle):
            self.oracle.rng.bit_generator.state = state["oracle_rng"]
        self._callback_states = {k: state[k] for k in ("queries", "classifier") if k in state}
        keep_metrics_until(self.out / "metrics.csv", self.model.num_timesteps)

    def checkpoint(self) -> Path:
        """Write everything a resume needs (the label store is durable already)."""
        files: dict[str, Callable[[Path], None]] = {"frames.npy": self.frames.save}
        if self.config.reward in ("vice-raq", "vice", "classifier"):
            files["classifier.pt"] = self.classifier.save
        if isinstance(self.venv, VecNormalize):
            files[OBS_STATS] = functools.partial(checkpoint.save_obs_stats, self.venv)
        state: dict[str, Any] = {
            "wall_s": self.wall_seconds(),
            "reward_s": self.reward_seconds(),
            "numpy_global": checkpoint.numpy_global_state(),
            "oracle_rng": self.oracle.rng.bit_generator.state
            if isinstance(self.oracle, SimulatedOracle)
            else None,
        }
        for name, callback in (
            ("queries", self.query_callback),
            ("classifier", self.classifier_callback),
        ):
            if callback is not None:
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
        for callback in (self.classifier_callback, self.query_callback):
            if callback is not None:
                seconds += callback.seconds
        return seconds

    # -- running ------------------------------------------------------------------------

    def train(self, extra_callbacks: tuple[BaseCallback, ...] = ()) -> dict[str, Any]:
        """Train to ``config.steps`` env steps, checkpointing; return the summary.

        Ctrl-C writes a checkpoint before it propagates: ``--resume`` continues from there.

        Args:
            extra_callbacks: run after the method's own (a benchmark's diagnostics).
        """
        save_config(self.config, self.out / "config.json")
        remaining = self.config.steps - self.model.num_timesteps
        if remaining > 0:
            callbacks = self._callbacks()
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
        plot_metrics(self.out)
        if self.config.video:
            record_video(self.model, self.config, self.out / "policy.mp4", self.obs_stats())
        return self.summary()

    def _final_evaluation(self) -> None:
        c = self.config
        env = make_policy_env(c.task, c.policy_input, c.image_size, self.obs_stats())
        try:
            success, mean_return = rollout(self.model, env, c.eval_episodes)
        finally:
            env.close()
        append_metrics(self.out / "metrics.csv", self._metrics_row(success, mean_return))

    def _metrics_row(self, success_rate: float, eval_return: float) -> dict[str, float]:
        return {
            "step": self.model.num_timesteps,
            "success_rate": success_rate,
            "eval_return": eval_return,
            "labels": self.labels_used,
            "wall_s": round(self.wall_seconds(), 1),
            "reward_s": round(self.reward_seconds(), 1),
        }

    def obs_stats(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(mean, var)`` of the policy's observations when it reads them normalized."""
        if not isinstance(self.venv, VecNormalize):
            return None
        stats = checkpoint.obs_rms(self.venv)
        return stats.mean, stats.var

    def summary(self) -> dict[str, Any]:
        """Final numbers of the run, as written to ``summary.json`` (``null`` where none)."""
        rows = read_metrics(self.out / "metrics.csv")
        summary = {
            "task": self.config.task,
            "reward": self.config.reward,
            "steps": self.model.num_timesteps,
            "success_rate": rows[-1]["success_rate"] if rows else None,
            "labels": self.labels_used,
            "goal_images": len(self.goals),
            "wall_s": round(self.wall_seconds(), 1),
            "reward_share": round(self.reward_seconds() / max(self.wall_seconds(), 1e-9), 3),
        }
        checkpoint.atomic_write(
            self.out / "summary.json", (json.dumps(summary, indent=2) + "\n").encode()
        )
        return summary


class CheckpointCallback(BaseCallback):
    """After each evaluation: a checkpoint of the run (:mod:`reward_learning.checkpoint`)."""

    def __init__(self, run: TrainingRun) -> None:
        super().__init__()
        self.run = run

    def _on_step(self) -> bool:
        self.run.checkpoint()
        return True


def prepare_run_dir(out: Path, overwrite: bool) -> None:
    """Create a new run's directory; one that holds anything is refused unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out} is a file: name a directory for the run")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UserInputError(
                f"{out} already holds a run: continue it with `reward-learning train --resume "
                f"{out}`, start it over with --overwrite, or name another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def make_learner(config: TrainConfig, env: gym.Env[Any, Any] | VecEnv) -> SAC | TQC:
    """The policy's learner for ``env``, built from the config alone (checkpoints hold tensors)."""
    c = config
    state = c.policy_input == "state"
    return ALGOS[c.algo](
        "MlpPolicy" if state else "MultiInputPolicy",
        env,
        # Image policies keep 2 images per transition: about 14 KB each at 48 px.
        buffer_size=1_000_000 if state else 100_000,
        replay_buffer_class=(
            FrameDictReplayBuffer if not state
            else FrameNStepReplayBuffer if c.n_steps > 1
            else FrameReplayBuffer
        ),
        replay_buffer_kwargs={"n_steps": c.n_steps, "gamma": c.gamma} if c.n_steps > 1 else None,
        learning_starts=c.learning_starts,
        gradient_steps=c.gradient_steps,
        gamma=c.gamma,
        ent_coef=c.ent_coef,
        learning_rate=c.learning_rate,
        policy_kwargs={"net_arch": [256, 256]},
        seed=c.seed,
        device=c.device,
        verbose=0,
    )  # fmt: skip


def keep_metrics_until(path: Path, step: int) -> None:
    """Drop the ``metrics.csv`` rows after ``step`` (written after the checkpoint resumed from)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if float(line.split(",", 1)[0]) <= step]
    checkpoint.atomic_write(path, "".join(kept).encode())


def append_metrics(path: Path, row: dict[str, float]) -> None:
    """One row of ``metrics.csv`` (the header first when the file is new)."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def read_metrics(path: Path) -> list[dict[str, float]]:
    """Rows of ``metrics.csv`` as floats; empty when there is none yet."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_metrics(run_dir: Path) -> Path | None:
    """``success.png``: ground-truth success rate and labels used vs env steps."""
    rows = read_metrics(run_dir / "metrics.csv")
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, (ax, ax_return) = plt.subplots(1, 2, figsize=(10, 4))
    ax.plot(steps, [r["success_rate"] for r in rows], "o-", label="success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("env steps")
    ax.set_ylabel("ground-truth success rate")
    labels_ax = ax.twinx()
    labels_ax.plot(steps, [r["labels"] for r in rows], "--", color="tab:gray", label="labels used")
    labels_ax.set_ylabel("oracle labels used")
    ax.grid(alpha=0.3)
    ax_return.plot(steps, [r["eval_return"] for r in rows], "o-", color="tab:green")
    ax_return.set_xlabel("env steps")
    ax_return.set_ylabel("eval return (env reward = success per step)")
    ax_return.grid(alpha=0.3)
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    path = run_dir / "success.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def rollout(
    model: BaseAlgorithm, env: gym.Env[Any, Any], episodes: int, seed: int = 1_000
) -> tuple[float, float]:
    """Ground-truth success rate and mean env return of the deterministic policy.

    Episode ``k`` starts from ``env.reset(seed=seed + k)``; the caller owns (and closes) ``env``.
    """
    successes, total = 0, 0.0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, info = False, dict[str, Any]()
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        successes += bool(info["is_success"])
    return successes / episodes, total / episodes


def rollout_success(
    model: BaseAlgorithm, env: gym.Env[Any, Any], episodes: int, seed: int = 1_000
) -> float:
    """Ground-truth success rate of the deterministic policy (see :func:`rollout`)."""
    return rollout(model, env, episodes, seed)[0]


def record_video(
    model: BaseAlgorithm,
    config: TrainConfig,
    path: Path,
    obs_stats: tuple[np.ndarray, np.ndarray] | None = None,
    episodes: int = 3,
    size: int = 256,
) -> Path:
    """An MP4 of the deterministic policy (``view`` camera, ``size`` pixels), ``episodes`` episodes."""
    import imageio.v2 as imageio

    env = make_policy_env(
        config.task, config.policy_input, config.image_size, obs_stats,
        render_mode="rgb_array", render_size=size,
    )  # fmt: skip
    frames: list[np.ndarray] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=2_000 + episode)
        done = False
        while not done:
            frames.append(np.asarray(env.render()))
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        frames.append(np.asarray(env.render()))
    env.close()
    # imageio's type stubs do not list the ffmpeg plugin's keyword arguments.
    imageio.mimsave(path, np.stack(frames), fps=env.metadata["render_fps"], macro_block_size=1)  # type: ignore[call-overload]
    return path


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The ``config.json`` of a run directory, its ``out`` set to where the directory is now."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise UserInputError(f"{run_dir} is not a run directory (no config.json)")
    try:
        values = json.loads(path.read_text())
        config = TrainConfig(**values)
    except (json.JSONDecodeError, TypeError) as error:
        raise UserInputError(
            f"{path} is not a run's config ({error}): the run is damaged"
        ) from error
    config.out = str(run_dir)
    return config


def evaluate(run_dir: str | Path, episodes: int = 50, video: bool = True) -> dict[str, Any]:
    """Success rate of a saved run's policy over fresh episodes (and a video)."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    saved = checkpoint.latest(run_dir)
    if saved is None:
        raise UserInputError(
            f"{run_dir} has no checkpoint yet (the first comes with the first evaluation)"
        )
    obs_stats = None
    if config.normalize_obs:
        mean, var, _ = checkpoint.load_obs_stats(saved / OBS_STATS)
        obs_stats = (mean, var)
    env = make_policy_env(config.task, config.policy_input, config.image_size, obs_stats)
    try:
        model = make_learner(config, env)
        checkpoint.load_learner_state(model, saved / "learner.pt")
        result: dict[str, Any] = {"run": str(run_dir), "episodes": episodes}
        result["success_rate"] = rollout_success(model, env, episodes)
    finally:
        env.close()
    if video:
        result["video"] = str(record_video(model, config, run_dir / "policy.mp4", obs_stats))
    return result
