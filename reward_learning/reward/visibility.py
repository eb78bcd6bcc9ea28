"""Whether success shows in the picture: the classifier on goal images it did not train on.

A classifier can tell the goal images it trained on from the policy's frames by something other
than success (on a reaching task whose target is a pixel or two wide, the arm's pose), and its
reward then teaches nothing, however long the run. :func:`held_out_separation` trains fresh
classifiers on all but one fold of the goal images and of the policy's frames, once per fold,
and measures how often a held-out goal image scores above a held-out policy frame: the AUC, 1
where every goal image is told apart, 0.5 where none is.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from reward_learning.frames import FrameStore
from reward_learning.reward.classifier import SuccessClassifier

VISIBLE_AUC = 0.98
"""Held-out goal images that stand out from the policy's frames less often than this: the run
warns that success may not show. Push and Drape read 1.00 at 48 px, Gymnasium's Reacher with
its 1-2 px target 0.63-0.91, 0.71-0.93 with the target drawn as large as its success zone
(benchmarks/README.md, Success check)."""


def auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(a positive's score > a negative's), ties counting half (the Mann-Whitney statistic)."""
    above = (positives[:, None] > negatives[None, :]).mean()
    ties = (positives[:, None] == negatives[None, :]).mean()
    return float(above + ties / 2)


@dataclass(frozen=True)
class Separation:
    """How well held-out goal images stand out from held-out policy frames."""

    auc: float
    """Mean over folds of the AUC of held-out goal images against held-out policy frames."""
    folds: int
    goals: int

    def report(self, image_size: int, threshold: float = VISIBLE_AUC) -> str:
        """One line: how well success shows and, under ``threshold``, what to change."""
        measured = (
            f"held-out goal images scored above the policy's frames {self.auc:.0%} of the time "
            f"(AUC over {self.folds} folds of {self.goals} goal images; 50% = not told apart)"
        )
        if self.auc >= threshold:
            return f"success check: {measured}"
        return (
            f"warning: success may not show in {image_size}x{image_size} frames: {measured}, so "
            "the classifier's reward may teach something else; draw the goal as large as its "
            "success zone in your env, then bring the camera close to the workspace, looking "
            "down on it (--env-kwargs); goals.png shows the goal images beside the policy's "
            "frames"
        )


def held_out_separation(
    goals: np.ndarray,
    frames: np.ndarray,
    make_classifier: Callable[[], SuccessClassifier],
    steps: int,
    folds: int = 3,
    seed: int = 0,
) -> Separation:
    """K-fold separation of goal images from policy frames by classifiers that did not see them.

    Args:
        goals: uint8 ``(G, H, W, 3)``, G >= 2.
        frames: uint8 ``(F, H, W, 3)``: the policy's frames (failures, mostly).
        make_classifier: a fresh classifier of the run's settings.
        steps: Adam steps per fold (the run's first update takes as many).
        folds: at most this many, and no more than there are goal images.
        seed: of the split into folds.
    """
    rng = np.random.default_rng(seed)
    k = min(folds, len(goals))
    goal_fold = rng.permutation(len(goals)) % k
    frame_fold = rng.permutation(len(frames)) % k
    scores = []
    for fold in range(k):
        classifier = make_classifier()
        classifier.train_steps(goals[goal_fold != fold], frames[frame_fold != fold], steps)
        scores.append(
            auc(
                classifier.logit(goals[goal_fold == fold]),
                classifier.logit(frames[frame_fold == fold]),
            )
        )
    return Separation(float(np.mean(scores)), k, len(goals))


class VisibilityCheck(BaseCallback):
    """After the classifier's first update: does success show? One line, and a picture.

    Runs :func:`held_out_separation` once, on the goal images and up to ``n_frames`` frames
    drawn from the frame store (the policy's so far), and prints the AUC; under ``threshold`` it
    says on stderr, in one line, that success may not show in the frames and what to change.
    ``plot(goals, frames)`` draws the goal images beside the frames checked.

    Args:
        classifier: the run's classifier; its first update starts the check.
        frames: the training env's frame store.
        goals: uint8 ``(G, H, W, 3)``.
        make_classifier: a fresh classifier of the run's settings.
        steps: Adam steps per fold.
        folds: at most this many folds.
        seed: of the frames drawn and the folds.
        threshold: the AUC under which the run warns.
        plot: draws goal images beside policy frames, or ``None``.
    """

    def __init__(
        self,
        classifier: SuccessClassifier,
        frames: FrameStore,
        goals: np.ndarray,
        make_classifier: Callable[[], SuccessClassifier],
        steps: int,
        folds: int = 3,
        seed: int = 0,
        threshold: float = VISIBLE_AUC,
        plot: Callable[[np.ndarray, np.ndarray], object] | None = None,
        n_frames: int = 1024,
    ) -> None:
        super().__init__()
        self.classifier = classifier
        self.frames = frames
        self.goals = goals
        self.make_classifier = make_classifier
        self.steps = steps
        self.folds = folds
        self.seed = seed
        self.threshold = threshold
        self.plot = plot
        self.n_frames = n_frames
        self.separation: Separation | None = None
        self.seconds = 0.0

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.separation is not None or self.classifier.version == 0:
            return
        started = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        size = self.frames.size
        frames = self.frames.get(rng.choice(size, min(self.n_frames, size), replace=False))
        with torch.random.fork_rng():  # new classifiers seed torch: keep the run's streams
            self.separation = held_out_separation(
                self.goals, frames, self.make_classifier, self.steps, self.folds, self.seed
            )
        self.seconds = time.perf_counter() - started
        self.logger.record("reward/held_out_auc", self.separation.auc)
        if self.plot is not None:
            self.plot(self.goals, frames[:16])
        print(self.separation.report(self.goals.shape[1], self.threshold), file=sys.stderr)
