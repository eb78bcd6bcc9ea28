"""The interquartile mean and its interval (rliable's)."""

import numpy as np
import pytest
from scipy.stats import trim_mean

from reward_learning.run.aggregate import iqm, iqm_interval


@pytest.mark.parametrize("runs", [1, 2, 3, 4, 5, 7, 10])
def test_iqm_is_rliables_trimmed_mean(runs):
    scores = np.random.default_rng(runs).uniform(size=runs)
    assert iqm(scores) == pytest.approx(trim_mean(scores, 0.25))
    middle, low, high = iqm_interval(scores)
    assert low <= middle <= high
