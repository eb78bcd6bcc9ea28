"""VICE: a success classifier trained on goal images vs the policy's frames is the reward.

Fu et al., "Variational Inverse Control with Events", NeurIPS 2018; Singh et al., RSS 2019.
The reward of a transition is computed from the image of its *next* state (the official
VICE-RAQ code pairs the label of s' with the image of s; we do not). Rewards in the replay
buffer are recomputed once per classifier update rather than once per SAC batch, so the
classifier's cost on a CPU is paid every K env steps, not every gradient step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning.frames import FrameStore, frame_buffer, relabel
from reward_learning.reward import POLICY_NEGATIVES, RETRAIN_MODES, REWARD_FORMS
from reward_learning.reward.classifier import SuccessClassifier


class RewardFn(Protocol):
    """A learned reward: images uint8 ``(N, H, W, 3)`` to rewards float32 ``(N,)``."""

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Rewards of the frames."""


@dataclass
class ClassifierReward:
    """The classifier's verdict on a frame as a reward, times ``scale``.

    ``form="log-p"``: ``max(log p(success | image), -bound)``, in ``[-bound, 0]``: it keeps the
    classifier's gradation far from the goal (where p is tiny) that a thresholded p would lose.
    ``form="logit"`` (the VICE-RAQ code's): ``clip(logit, -bound, bound)``. The two agree where
    p is small; inside the goal region log p flattens at 0 while the logit keeps rising, so the
    policy is drawn to the most goal-like states rather than to anywhere past the boundary. The
    bound keeps the Q-targets finite. docs/ARCHITECTURE.md's calibration: the reward's scale decides
    whether SAC learns at all.
    """

    classifier: SuccessClassifier
    scale: float = 1.0
    form: str = "log-p"
    bound: float = 10.0

    def __post_init__(self) -> None:
        if self.form not in REWARD_FORMS:
            raise ValueError(f"form={self.form!r}: expected {' or '.join(REWARD_FORMS)}")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Rewards float32 ``(N,)`` of images uint8 ``(N, H, W, 3)``."""
        logit = self.classifier.logit(images)
        if self.form == "logit":
            reward = np.clip(logit, -self.bound, self.bound)
        else:
            log_p = -np.logaddexp(0.0, -logit)  # log sigmoid, stable for large |logit|
            reward = np.maximum(log_p, -self.bound)
        return (self.scale * reward).astype(np.float32)


@dataclass
class PixelL2Reward:
    """``-scale * RMS pixel distance to the mean goal image`` (pixels in [0, 1]); a baseline."""

    mean_goal: np.ndarray  # float32 (H, W, 3) in [0, 1]
    scale: float = 10.0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Rewards float32 ``(N,)`` of images uint8 ``(N, H, W, 3)``."""
        diff = images.astype(np.float32) / 255 - self.mean_goal
        return (-self.scale * np.sqrt((diff**2).mean(axis=(1, 2, 3)))).astype(np.float32)


class LearnedRewardWrapper(gym.Wrapper[Any, Any, Any, Any]):
    """Replaces the env's reward by ``reward_fn`` of the next observation's image.

    The env must emit dict observations with an ``"image"`` key. ``seconds`` accumulates the
    time spent in the reward function.
    """

    def __init__(self, env: gym.Env[Any, Any], reward_fn: RewardFn) -> None:
        super().__init__(env)
        self.reward_fn = reward_fn
        self.seconds = 0.0

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; the reward comes from the image of the state reached."""
        obs, _, terminated, truncated, info = self.env.step(action)
        start = time.perf_counter()
        reward = float(self.reward_fn(obs["image"][None])[0])
        self.seconds += time.perf_counter() - start
        return obs, reward, terminated, truncated, info


def mix_negatives(policy: np.ndarray, answered: np.ndarray, share: float) -> np.ndarray:
    """Policy frames plus the oracle's failures, repeated to make up about ``share`` of them.

    Each failure appears at least once, so ``share=0`` weighs one like a single policy frame.

    Args:
        policy: uint8 ``(M, H, W, 3)``.
        answered: uint8 ``(K, H, W, 3)``, ``K >= 1``.
        share: in ``[0, 1)``.
    """
    repeat = max(1, round(share / (1 - share) * len(policy) / len(answered)))
    return np.concatenate([policy, np.repeat(answered, repeat, axis=0)])


@dataclass
class ClassifierData:
    """What the classifier trains on besides policy frames: goals and oracle answers.

    ``positives`` are goal images and frames an oracle called success; ``negatives`` are
    frames an oracle called failure. Each is a list of uint8 ``(H, W, 3)`` frames, keyed by
    the label store's row id so that an undo can take one back.
    """

    goals: np.ndarray
    positives: dict[int, np.ndarray] = field(default_factory=dict)
    negatives: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def n_answers(self) -> int:
        """Oracle answers folded in (skips are not answers)."""
        return len(self.positives) + len(self.negatives)

    def add(self, row_id: int, image: np.ndarray, success: bool) -> None:
        """Fold in one oracle answer."""
        (self.positives if success else self.negatives)[row_id] = image

    def remove(self, row_id: int) -> None:
        """Take back an answer (undo)."""
        self.positives.pop(row_id, None)
        self.negatives.pop(row_id, None)

    def all_positives(self) -> np.ndarray:
        """Goal images and oracle positives, uint8 ``(P, H, W, 3)``."""
        return np.concatenate([self.goals, *[p[None] for p in self.positives.values()]])


class ClassifierCallback(BaseCallback):
    """VICE classifier updates: every ``every`` env steps, train and relabel the replay buffer.

    Negatives are ``n_negatives`` policy frames drawn uniformly from the frame store, plus
    the oracle's failures, repeated until they make up about ``oracle_negative_share`` of them.
    With ``every=None`` the classifier is trained once, at ``start``, and then frozen (the
    paper's naive "classifier" baseline).

    Args:
        classifier: the success classifier the reward reads.
        reward_fn: the reward it defines; used to relabel the buffer.
        frames: the training env's frames (the replay buffer names its transitions' frames).
        data: goal images and oracle answers.
        start: first update at this env step (after SAC's ``learning_starts``).
        every: env steps between updates, or ``None`` for one update only.
        steps: Adam steps per update.
        first_steps: Adam steps of the first update (from random weights).
        n_negatives: policy frames drawn per update.
        policy_negatives: ``"replay"`` (VICE: every frame so far, so the policy's latest
            frames count as failures) or ``"exploration"`` (only the frames of the random-action
            phase before ``start``; then the classifier changes only when oracle answers arrive).
        oracle_negative_share: the share of negatives the oracle's failures make up at most;
            0 weighs each like a single policy frame.
        retrain: ``"warm"`` (each update continues from the current weights for ``steps``) or
            ``"scratch"`` (each update restarts from the seeded initial weights and trains
            ``first_steps``: the classifier does not grow sharper with every update).
        seed: of the draw of policy frames (the run's seed).
    """

    def __init__(
        self,
        classifier: SuccessClassifier,
        reward_fn: RewardFn,
        frames: FrameStore,
        data: ClassifierData,
        start: int,
        every: int | None,
        steps: int = 20,
        first_steps: int = 200,
        n_negatives: int = 4096,
        policy_negatives: str = "replay",
        oracle_negative_share: float = 0.5,
        retrain: str = "warm",
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.classifier = classifier
        self.reward_fn = reward_fn
        self.frames = frames
        self.data = data
        self.start = start
        self.every = every
        self.steps = steps
        self.first_steps = first_steps
        self.n_negatives = n_negatives
        if policy_negatives not in POLICY_NEGATIVES:
            raise ValueError(
                f"policy_negatives={policy_negatives!r}: expected {' or '.join(POLICY_NEGATIVES)}"
            )
        self.policy_negatives = policy_negatives
        if not 0 <= oracle_negative_share < 1:
            raise ValueError(f"oracle_negative_share={oracle_negative_share}: expected [0, 1)")
        self.oracle_negative_share = oracle_negative_share
        if retrain not in RETRAIN_MODES:
            raise ValueError(f"retrain={retrain!r}: expected {' or '.join(RETRAIN_MODES)}")
        self.retrain = retrain
        self.seconds = 0.0
        self.last_update = 0
        self.labels_at_update = 0
        self.rng = np.random.default_rng(seed)

    def state_dict(self) -> dict[str, Any]:
        """Counters and the negatives' random stream, for a resumed run (JSON-able)."""
        return {
            "last_update": self.last_update,
            "labels_at_update": self.labels_at_update,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        self.last_update, self.labels_at_update = state["last_update"], state["labels_at_update"]
        self.rng.bit_generator.state = state["rng"]

    def _due(self) -> bool:
        t = self.num_timesteps
        if t < self.start:
            return False
        if self.classifier.version == 0:
            return True
        if self.every is None or t < self.last_update + self.every:
            return False
        # Frames of the exploration phase do not change: only new answers make an update worth it.
        return self.policy_negatives == "replay" or self.data.n_answers != self.labels_at_update

    def update(self) -> float:
        """One classifier update and a relabelling of the buffer; returns the loss."""
        size = self.frames.size
        if self.policy_negatives == "exploration":
            size = min(size, self.start)
        negatives = self.frames.get(self.rng.integers(size, size=min(self.n_negatives, size)))
        if self.data.negatives:
            answered = np.stack(list(self.data.negatives.values()))
            negatives = mix_negatives(negatives, answered, self.oracle_negative_share)
        steps = self.steps
        if self.classifier.version == 0 or self.retrain == "scratch":
            self.classifier.reinitialize()
            steps = self.first_steps
        loss = self.classifier.train_steps(self.data.all_positives(), negatives, steps)
        relabel(frame_buffer(self.model), self.frames, self.reward_fn)
        return loss

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        # SB3 calls on_step before it stores the step's transition, and on_rollout_end after;
        # updating here lets the relabelling cover every transition, the newest included.
        if not self._due():
            return
        start = time.perf_counter()
        loss = self.update()
        self.last_update = self.num_timesteps
        self.labels_at_update = self.data.n_answers
        self.seconds += time.perf_counter() - start
        self.logger.record("reward/classifier_loss", loss)
        self.logger.record("reward/classifier_version", self.classifier.version)
        self.logger.record("reward/positives", len(self.data.goals) + len(self.data.positives))
        self.logger.record("reward/oracle_negatives", len(self.data.negatives))
