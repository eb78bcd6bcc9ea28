"""SAC's and TQC's pieces: DroQ's sparse dropout, and normalized observations outside training."""

import numpy as np
import pytest
import torch

from reward_learning.learner.algorithms import DROQ_DROPOUT, POST_LINEAR, dropped_positions


def test_sparse_dropout_drops_each_position_independently_at_its_rate():
    n, p, draws = 500, 0.02, 4000
    generator = torch.Generator().manual_seed(0)
    counts = np.zeros(n)
    sizes = []
    for _ in range(draws):
        positions = dropped_positions(n, p, generator).numpy()
        assert len(np.unique(positions)) == len(positions)
        assert positions.min(initial=0) >= 0 and positions.max(initial=0) < n
        counts[positions] += 1
        sizes.append(len(positions))
    # Every position's rate, and the spread of the count, are Bernoulli's (binomial).
    rate_sd = np.sqrt(p * (1 - p) / draws)
    assert np.abs(counts / draws - p).max() < 5 * rate_sd
    assert np.mean(sizes) == pytest.approx(n * p, rel=0.05)
    assert np.var(sizes) == pytest.approx(n * p * (1 - p), rel=0.1)
    # First and last positions are not favoured by the gaps' start and end.
    assert abs(counts[:50].mean() - counts[-50:].mean()) / draws < 3 * rate_sd
    # A rate so high that the first draw of gaps ends early still covers the whole range.
    assert len(dropped_positions(10, 0.999, generator)) >= 9


def test_droq_dropout_zeroes_and_rescales_in_training_and_passes_through_in_evaluation():
    dropout = POST_LINEAR["droq"][0](256)
    x = torch.ones(256, 256, requires_grad=True)
    y = dropout(x)
    kept = y != 0
    assert 0.005 < 1 - kept.float().mean().item() < 0.015
    assert torch.allclose(y[kept], torch.tensor(1 / (1 - DROQ_DROPOUT)))
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)  # no gradient through a dropped unit
    dropout.eval()
    assert torch.equal(dropout(x), x)


def test_a_policy_env_outside_training_normalizes_as_the_training_env_did(tmp_path):
    from reward_learning.learner.algorithms import normalized_like_training
    from reward_learning.tasks.make import make_policy_env
    from tests.conftest import tiny_run

    run = tiny_run(tmp_path / "run", steps=150, normalize_obs=True)
    run.train()
    c = run.config
    raw, _ = make_policy_env(c.task, c.policy_input, c.image_size).reset(seed=5)
    env = normalized_like_training(
        make_policy_env(c.task, c.policy_input, c.image_size), c, run.obs_stats()
    )
    obs, _ = env.reset(seed=5)
    np.testing.assert_array_equal(obs, run.venv.normalize_obs(raw))
    assert obs.dtype == np.float32 and not np.allclose(obs, raw)
    assert env.observation_space == run.venv.observation_space  # what the policy was built on
