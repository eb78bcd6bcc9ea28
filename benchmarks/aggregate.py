"""Aggregates over seeds the way rliable reports them (Agarwal et al., NeurIPS 2021).

The interquartile mean (the mean of the middle 50% of runs) with a 95% percentile bootstrap
interval over runs: with a single task, rliable's stratified bootstrap is this bootstrap.
Written out because rliable 1.2.0 fails to import beside pandas 3 (its ``arch`` dependency).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import trim_mean


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of float ``(runs,)``: the 25%-trimmed mean, as rliable computes it."""
    return float(trim_mean(scores, proportiontocut=0.25))


def iqm_interval(
    scores: np.ndarray, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(iqm, low, high)`` of float ``(runs,)``, the interval from ``reps`` bootstrap resamples."""
    rng = np.random.default_rng(seed)
    resamples = rng.choice(scores, size=(reps, len(scores)), replace=True)
    estimates = trim_mean(resamples, proportiontocut=0.25, axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return iqm(scores), float(low), float(high)
