"""Aggregates over seeds the way rliable reports them (Agarwal et al., NeurIPS 2021).

The interquartile mean (the mean of the middle 50% of runs) with a 95% percentile bootstrap
interval over runs: with a single task, rliable's stratified bootstrap is this bootstrap.
Written out because rliable 1.2.0 fails to import beside pandas 3 (its ``arch`` dependency).
"""

from __future__ import annotations

import numpy as np


def iqm(scores: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """Interquartile mean along ``axis``: the 25%-trimmed mean.

    As rliable computes it (scipy's ``trim_mean``): ``int(0.25 * n)`` runs cut from each end.
    """
    ordered = np.sort(np.asarray(scores, dtype=np.float64), axis=axis)
    n = ordered.shape[axis]
    cut = int(0.25 * n)
    middle = np.take(ordered, np.arange(cut, n - cut), axis=axis)
    result = middle.mean(axis=axis)
    return float(result) if np.ndim(result) == 0 else result


def iqm_interval(
    scores: np.ndarray, reps: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``(iqm, low, high)`` of float ``(runs,)``, the interval from ``reps`` bootstrap resamples."""
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    resamples = rng.choice(scores, size=(reps, len(scores)), replace=True)
    estimates = iqm(resamples, axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(iqm(scores)), float(low), float(high)
