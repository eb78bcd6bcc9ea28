"""The uncertainty core: scores by hand, selection, BALD and BatchBALD."""

import numpy as np
import pytest
import torch

from reward_learning.questions import uncertainty as U

SEED_EXAMPLE = np.array([[0.1, 0.85, 0.05], [0.6, 0.3, 0.1], [0.39, 0.61, 0.0]])


def test_least_confidence_seed_example():
    np.testing.assert_allclose(U.least_confidence(SEED_EXAMPLE), [0.15, 0.4, 0.39])
    indices, scores = U.select_top(U.score("least-confident", SEED_EXAMPLE), 1)
    assert indices.tolist() == [1]
    np.testing.assert_allclose(scores, [0.4])


def test_margin_and_entropy_by_hand():
    # top-2 gaps: 0.75, 0.3, 0.22 -> scores 1 - gap
    np.testing.assert_allclose(U.margin(SEED_EXAMPLE), [0.25, 0.7, 0.78])
    expected = [-sum(p * np.log(p) for p in row if p > 0) for row in SEED_EXAMPLE]
    np.testing.assert_allclose(U.entropy(SEED_EXAMPLE), expected)
    assert U.select_top(U.score("margin", SEED_EXAMPLE), 1)[0].tolist() == [2]


def test_uniform_is_most_uncertain_everywhere():
    probs = np.array([[1 / 3] * 3, [0.9, 0.05, 0.05]])
    for strategy in ("least-confident", "margin", "entropy"):
        assert U.select_top(U.score(strategy, probs), 1)[0].tolist() == [0]
    np.testing.assert_allclose(U.entropy(probs)[0], np.log(3))


def test_binary_probabilities_are_two_classes():
    p = np.array([0.5, 0.9, 0.2])
    two_class = np.stack([1 - p, p], -1)
    for fn in (U.least_confidence, U.margin, U.entropy):
        np.testing.assert_allclose(fn(p), fn(two_class))
    np.testing.assert_allclose(U.least_confidence(p), [0.5, 0.1, 0.2])


def test_ties_go_to_the_lower_index():
    scores = np.array([0.2, 0.7, 0.7, 0.1, 0.7])
    indices, picked = U.select_top(scores, 2)
    assert indices.tolist() == [1, 2]
    np.testing.assert_allclose(picked, [0.7, 0.7])
    assert U.select_top(scores, 10)[0].tolist() == [1, 2, 4, 0, 3]
    assert len(U.select_top(scores, 0)[0]) == 0


def test_bald_zero_when_passes_agree_positive_when_they_disagree():
    agree = np.tile(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]), (5, 1, 1))
    np.testing.assert_allclose(U.bald(agree), [0.0, 0.0], atol=1e-9)
    disagree = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # two confident passes, opposite
    np.testing.assert_allclose(U.bald(disagree), [np.log(2)], rtol=1e-6)
    # Binary (K, N) works as two classes.
    np.testing.assert_allclose(U.bald(np.array([[0.0], [1.0]])), [np.log(2)], rtol=1e-6)


def test_non_bald_scores_average_stochastic_passes():
    passes = np.array([[[0.9, 0.1]], [[0.5, 0.5]]])
    np.testing.assert_allclose(U.least_confidence(passes), [0.3])


@pytest.mark.parametrize("strategy", ["least-confident", "margin", "entropy", "bald"])
def test_torch_and_numpy_agree(strategy):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), size=(3, 50))  # (K, N, C)
    if strategy != "bald":
        probs = probs[0]
    from_numpy = U.score(strategy, probs)
    from_torch = U.score(strategy, torch.as_tensor(probs))
    np.testing.assert_allclose(from_numpy, from_torch, rtol=1e-6)
    assert from_numpy.shape == (50,)


def test_random_scores_follow_the_generator():
    probs = np.full((10, 2), 0.5)
    a = U.score("random", probs, np.random.default_rng(3))
    b = U.score("random", probs, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_unknown_strategy_and_bad_shape_are_named():
    with pytest.raises(ValueError, match="unknown strategy 'confidence'"):
        U.score("confidence", SEED_EXAMPLE)
    with pytest.raises(ValueError, match=r"shape \(2, 2, 2, 2\)"):
        U.entropy(np.ones((2, 2, 2, 2)))


def test_diverse_selection_skips_near_duplicates_and_never_repeats():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 8))
    embeddings = np.concatenate([base, base + 1e-3])  # every item has a twin
    scores = np.concatenate([np.arange(5.0), np.arange(5.0) + 0.5])  # twins score higher
    indices, picked = U.select_diverse(scores, embeddings, 5, min_distance=0.1)
    assert len(set(indices.tolist())) == len(indices) == 5
    assert sorted(indices.tolist()) == [5, 6, 7, 8, 9]  # one of each twin pair, the better
    np.testing.assert_allclose(picked, scores[indices])
    # Exact duplicates everywhere: only one pick survives, never the same index twice.
    same = np.zeros((6, 3))
    assert U.select_diverse(np.ones(6), same, 4, min_distance=0.0)[0].tolist() == [0]


def test_top_selection_scales_to_a_large_pool():
    scores = np.random.default_rng(0).random(60_000)
    indices, picked = U.select_top(scores, 10)
    assert indices.tolist() == np.argsort(-scores)[:10].tolist()
    assert np.all(np.diff(picked) <= 0)


def joint_mutual_information(probs, items):
    """I(y_items; w) by enumerating every class configuration of the items."""
    import itertools

    configurations = np.array(list(itertools.product(range(probs.shape[2]), repeat=len(items))))
    joint = np.prod(
        [probs[:, i][:, configurations[:, j]] for j, i in enumerate(items)], axis=0
    ).mean(0)
    conditional = sum(U._entropy(probs[:, i]).mean() for i in items)
    return -(joint * np.log(joint)).sum() - conditional


def test_batchbald_of_one_is_balds_pick():
    probs = np.random.default_rng(0).dirichlet(np.full(10, 0.5), size=(8, 300))
    picks, gains = U.select_batchbald(probs, 1)
    assert picks.tolist() == [int(np.argmax(U.bald(probs)))]
    assert gains[0] == pytest.approx(U.bald(probs).max())


def test_batchbald_skips_a_copy_that_bald_would_take_twice():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(10, 0.5), size=(8, 50))
    best = int(np.argmax(U.bald(probs)))
    probs = np.concatenate([probs, probs[:, [best]]], axis=1)  # the pool holds the item twice
    assert set(U.select_top(U.bald(probs), 2)[0].tolist()) == {best, 50}
    picks, _ = U.select_batchbald(probs, 2)
    assert picks[0] in (best, 50) and picks[1] not in (best, 50)


def test_batchbald_gains_add_up_to_the_exact_joint_mutual_information():
    probs = np.random.default_rng(2).dirichlet(np.full(10, 0.5), size=(8, 200))
    picks, gains = U.select_batchbald(probs, 4, samples=10**5)  # exact: 10^4 configurations
    assert gains.sum() == pytest.approx(joint_mutual_information(probs, picks), abs=1e-9)
    assert np.all(np.diff(gains) <= 1e-12)  # greedy gains only shrink (submodularity)


@pytest.mark.parametrize("seed", range(5))
def test_sampled_joint_entropy_agrees_with_the_exact_one(seed):
    """Six items of six classes: 6^6 configurations, estimated from 3,000 once past 3,000."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(6, 0.5), size=(8, 6))
    _, gains = U.select_batchbald(probs, 6, rng, samples=3000)
    assert gains.sum() == pytest.approx(joint_mutual_information(probs, range(6)), abs=0.05)
