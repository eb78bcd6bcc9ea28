"""The policy learner: SAC or TQC, from state or pixels (DrQ).

This module is the learner's menu, what a run may choose by name; it imports neither torch nor
MuJoCo, so the command line reads it for its choices and ``--help``. Algorithms are entry
points, imported when a run builds its learner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reward_learning.registry import Registry

if TYPE_CHECKING:
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

ALGORITHMS: Registry[OffPolicyAlgorithm] = Registry("algorithm", "--algo")
"""Off-policy algorithms by name: SB3's and sb3-contrib's classes."""
ALGORITHMS.register("sac", "stable_baselines3:SAC", "soft actor-critic")
ALGORITHMS.register("tqc", "sb3_contrib:TQC", "truncated quantile critics")

CRITICS: tuple[str, ...] = ("mlp", "layernorm", "droq")
"""SAC's or TQC's critics: SB3's MLP; LayerNorm after each hidden layer; or dropout (0.01) then
LayerNorm (DroQ, Hiraoka et al., ICLR 2022), which keep Q-values tame at higher update-to-data
ratios (``learner.algorithms.POST_LINEAR``)."""

ENCODERS: Registry[dict[str, Any]] = Registry("encoder", "--encoder")
"""Pixel encoders by name: each builder gives ``learner.pixels.PixelEncoder``'s keyword
arguments."""
ENCODERS.register(
    "lean", lambda: {"channels": 32, "strides": (2, 2, 2)}, "3 stride-2 convolutions, 48 -> 5 px"
)
ENCODERS.register(
    "drq",
    lambda: {"channels": 32, "strides": (2, 1, 1, 1)},
    "DrQ's: stride 2 then 3 of 1, 48 -> 17 px",
)
