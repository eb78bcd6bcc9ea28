"""The uncertainty core: informativeness scores over class probabilities, and selection.

Every score is a pure function of predicted probabilities, shared by the robot's success
queries and the MNIST active-learning demo (modAL's ``uncertainty.py`` split, Danka & Horvath
2018). Scores follow one convention: **higher means more informative**.

Probabilities come in three shapes:

* ``(N,)``: a binary classifier's P(positive); treated as two classes ``[1 - p, p]``.
* ``(N, C)``: one deterministic pass over ``N`` items and ``C`` classes.
* ``(K, N, C)`` (or ``(K, N)`` for binary): ``K`` stochastic passes (MC dropout or an
  ensemble). BALD needs these; the other scores average the passes first.

Inputs may be numpy arrays or torch tensors (on any device); scores come back in the same
library. Selection returns ``(indices, scores)`` as numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Array = Any  # numpy.ndarray or torch.Tensor; kept loose so numpy-only users never import torch
STRATEGIES: tuple[str, ...] = ("least-confident", "margin", "entropy", "bald", "random")

_EPS = 1e-12


def _is_torch(x: Array) -> bool:
    return type(x).__module__.startswith("torch")


def _xp(x: Array) -> Any:
    if _is_torch(x):
        import torch

        return torch
    return np


def as_class_probabilities(probs: Array, stochastic: bool = False) -> Array:
    """Return probabilities with an explicit class axis.

    Args:
        probs: shape ``(N,)`` or ``(N, C)``; with ``stochastic=True``, ``(K, N)`` or
            ``(K, N, C)``. A missing class axis means binary P(positive).
        stochastic: whether the leading axis indexes stochastic passes.

    Returns:
        Shape ``(N, C)``, or ``(K, N, C)`` when ``stochastic``; binary inputs get ``C = 2``.
    """
    xp = _xp(probs)
    base_ndim = 2 if stochastic else 1
    if probs.ndim == base_ndim:
        return xp.stack([1 - probs, probs], -1)
    if probs.ndim != base_ndim + 1:
        expected = "(K, N) or (K, N, C)" if stochastic else "(N,) or (N, C)"
        raise ValueError(f"probabilities of shape {tuple(probs.shape)}: expected {expected}")
    return probs


def _mean_over_passes(probs: Array) -> Array:
    """Collapse ``(K, N, C)`` passes to ``(N, C)``; leave ``(N, C)`` and ``(N,)`` as they are."""
    return probs.mean(0) if probs.ndim == 3 else probs


def _top2(probs: Array) -> tuple[Array, Array]:
    """The largest and second-largest probability per row of ``(N, C)``."""
    if _is_torch(probs):
        import torch

        top = torch.topk(probs, 2, dim=-1).values
        return top[..., 0], top[..., 1]
    partitioned = np.partition(probs, -2, axis=-1)
    return partitioned[..., -1], partitioned[..., -2]


def least_confidence(probs: Array) -> Array:
    """``1 - max_c p_c``: shape ``(N,)``, in ``[0, 1 - 1/C]``."""
    p = as_class_probabilities(_mean_over_passes(probs))
    return 1 - _top2(p)[0]


def margin(probs: Array) -> Array:
    """``1 - (p_top1 - p_top2)``: shape ``(N,)``; the smallest gap scores highest."""
    p = as_class_probabilities(_mean_over_passes(probs))
    first, second = _top2(p)
    return 1 - (first - second)


def _entropy(p: Array) -> Array:
    xp = _xp(p)
    return -(p * xp.log(xp.clip(p, _EPS, 1.0))).sum(-1)


def entropy(probs: Array) -> Array:
    """Predictive entropy ``-sum_c p_c log p_c`` in nats: shape ``(N,)``."""
    return _entropy(as_class_probabilities(_mean_over_passes(probs)))


def bald(probs: Array) -> Array:
    """BALD mutual information ``H[mean_k p_k] - mean_k H[p_k]`` in nats (Houlsby et al. 2011).

    Args:
        probs: ``K`` stochastic passes, shape ``(K, N, C)`` or ``(K, N)`` for binary.

    Returns:
        Shape ``(N,)``, ``>= 0``: zero where every pass agrees.
    """
    p = as_class_probabilities(probs, stochastic=True)
    mutual_information = _entropy(p.mean(0)) - _entropy(p).mean(0)
    return (
        mutual_information.clip(0.0, None) if _is_torch(p) else np.maximum(mutual_information, 0.0)
    )


def random_scores(probs: Array, rng: np.random.Generator) -> np.ndarray:
    """Uniform random scores in ``[0, 1)``, shape ``(N,)``: the baseline that ignores the model."""
    n_items = probs.shape[1] if probs.ndim == 3 else probs.shape[0]
    return rng.random(n_items)


_SCORES: dict[str, Callable[[Array], Array]] = {
    "least-confident": least_confidence,
    "margin": margin,
    "entropy": entropy,
    "bald": bald,
}


def check_strategy(
    strategy: str, allowed: tuple[str, ...] = STRATEGIES, kind: str = "strategy"
) -> None:
    """Raise ``ValueError`` naming ``strategy`` and the ``allowed`` names when it is not one of them."""
    if strategy not in allowed:
        raise ValueError(f"unknown {kind} {strategy!r}: expected one of {', '.join(allowed)}")


def score(strategy: str, probs: Array, rng: np.random.Generator | None = None) -> np.ndarray:
    """Score items by ``strategy``; higher is more informative.

    Args:
        strategy: one of :data:`STRATEGIES`.
        probs: see the module docstring. ``bald`` needs stochastic passes ``(K, N[, C])``.
        rng: random generator, used by ``random`` only.

    Returns:
        float64 numpy array of shape ``(N,)``.
    """
    if strategy == "random":
        return random_scores(probs, rng if rng is not None else np.random.default_rng())
    check_strategy(strategy)
    scores = _SCORES[strategy](probs)
    if _is_torch(scores):
        scores = scores.detach().cpu().numpy()
    return np.asarray(scores, dtype=np.float64)


def select_top(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` highest scores, best first; ties go to the lower index.

    Args:
        scores: shape ``(N,)``.
        n: how many to pick; more than ``N`` picks all.

    Returns:
        ``(indices, scores)``, each of shape ``(min(n, N),)``.
    """
    scores = np.asarray(scores)
    n = min(n, scores.shape[0])
    if n <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=scores.dtype)
    # argpartition keeps selection O(N); flatnonzero keeps index order, so the stable sort
    # breaks ties towards the lower index.
    threshold = np.partition(scores, -n)[-n]
    candidates = np.flatnonzero(scores >= threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")][:n]
    return order.astype(np.int64), scores[order]


def select_diverse(
    scores: np.ndarray, embeddings: np.ndarray, n: int, min_distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy batch-aware selection: best-first, skipping near-duplicates of earlier picks.

    An item is eligible while its Euclidean distance to every item already picked exceeds
    ``min_distance``. Cost is ``O(n * N * D)``: one vectorized distance pass per pick.

    Args:
        scores: shape ``(N,)``, higher is more informative.
        embeddings: shape ``(N, D)``, e.g. flattened downsampled images or network features.
        n: how many to pick.
        min_distance: picks closer than this (in embedding units) count as duplicates.

    Returns:
        ``(indices, scores)`` of at most ``n`` distinct items, best first. Fewer come back
        when every remaining item is a near-duplicate of a pick.
    """
    scores = np.asarray(scores, dtype=np.float64)
    embeddings = np.asarray(embeddings, dtype=np.float32).reshape(len(scores), -1)
    if embeddings.shape[0] != scores.shape[0]:
        raise ValueError(f"{embeddings.shape[0]} embeddings for {scores.shape[0]} scores")
    masked = scores.copy()
    picks: list[int] = []
    for _ in range(min(n, len(scores))):
        best = int(np.argmax(masked))
        if masked[best] == -np.inf:
            break
        picks.append(best)
        distances = np.linalg.norm(embeddings - embeddings[best], axis=1)
        masked[distances <= min_distance] = -np.inf
        masked[best] = -np.inf
    indices = np.asarray(picks, dtype=np.int64)
    return indices, scores[indices]


def select_batchbald(
    probs: np.ndarray,
    n: int,
    rng: np.random.Generator | None = None,
    samples: int = 1000,
    candidates: int = 2000,
    chunk: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """BatchBALD (Kirsch et al., NeurIPS 2019): a batch that is jointly informative.

    Greedy: each pick maximizes the mutual information between the labels of the whole batch
    and the model, ``I(y_1..y_m; w) = H(y_1..y_m) - sum_j E_w H(y_j | w)``. The joint entropy is
    exact (every class configuration of the batch so far) while there are at most ``samples``
    configurations, then estimated from ``samples`` configurations drawn from the model's joint
    predictive, as the paper does. Only the ``candidates`` items of highest BALD are considered
    (the paper, too, ran on pool subsets): a pick's gain is at most its own BALD score. They are
    scored in chunks in order of BALD, and the rest are skipped once none can beat the best gain
    (the greedy pick is unchanged by that).

    Args:
        probs: ``K`` stochastic passes, shape ``(K, N, C)`` (or ``(K, N)`` for binary).
        n: how many to pick.
        rng: draws the sampled configurations.
        samples: configurations kept once the exact joint is larger.
        candidates: items of highest BALD considered.
        chunk: candidates scored at once (memory ``samples x chunk x C`` floats).

    Returns:
        ``(indices, gains)``: the picks in order and each one's gain in joint mutual information
        (nats); a batch of one is BALD's top item.
    """
    rng = rng if rng is not None else np.random.default_rng()
    p = np.asarray(as_class_probabilities(probs, stochastic=True), dtype=np.float64)
    n_passes, n_items, n_classes = p.shape
    conditional = _entropy(p).mean(0)  # E_w H(y_i | w), (N,)
    mutual_information = bald(p)
    order = select_top(mutual_information, candidates)[0]
    upper = mutual_information[order]
    joint = np.ones((n_passes, 1))  # P(configuration of the picks | w_k), (K, M)
    weights = np.ones(1)  # each configuration's weight in the joint-entropy sum
    drawn: np.ndarray | None = None  # sampled configurations: the pass each was drawn from
    picks: list[int] = []
    gains: list[float] = []
    batch_entropy = 0.0
    for _ in range(min(n, len(order))):
        best, best_gain, best_entropy = -1, -np.inf, 0.0
        for start in range(0, len(order), chunk):
            if upper[start] <= best_gain:
                break
            scored = order[start : start + chunk]
            entropies = _joint_entropies(joint, weights, p[:, scored])
            gain = entropies - batch_entropy - conditional[scored]
            gain[np.isin(scored, picks)] = -np.inf
            top = int(np.argmax(gain))
            if gain[top] > best_gain:
                best, best_gain, best_entropy = int(scored[top]), gain[top], entropies[top]
        picks.append(best)
        gains.append(float(best_gain))
        batch_entropy = best_entropy
        if drawn is None and joint.shape[1] * n_classes <= samples:
            joint = (joint[:, :, None] * p[:, best][:, None, :]).reshape(n_passes, -1)
            weights = np.ones(joint.shape[1])
            continue
        if drawn is None:  # too many configurations: draw them from the joint predictive
            drawn = rng.integers(n_passes, size=samples)
            joint = np.ones((n_passes, samples))
            new = picks
        else:
            new = [best]
        for item in new:
            labels = _draw_classes(p[drawn, item], rng)  # (S,)
            joint = joint * p[:, item, labels]
        weights = 1.0 / (samples * np.maximum(joint.mean(0), _EPS))
    indices = np.asarray(picks, dtype=np.int64)
    return indices, np.asarray(gains)


def _joint_entropies(joint: np.ndarray, weights: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``H(picks, y_i)`` for each of ``B`` candidates ``(K, B, C)``, shape ``(B,)``.

    ``-sum_s w_s sum_c q log q`` with ``q = mean_k P(s | w_k) p_k(c)``, ``joint`` ``(K, M)``.
    """
    n_passes, n_candidates, n_classes = candidates.shape
    q = joint.T @ candidates.reshape(n_passes, -1) / n_passes  # (M, B * C)
    q = q.reshape(len(weights), n_candidates, n_classes)
    return -np.einsum("s,sbc->b", weights, q * np.log(np.maximum(q, _EPS)))


def _draw_classes(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row of ``(S, C)`` probabilities (inverse CDF), int ``(S,)``."""
    cumulative = np.cumsum(probs, axis=1)
    draws = rng.random(len(probs))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative < draws).sum(1), probs.shape[1] - 1)


def median_distance(embeddings: np.ndarray, rng: np.random.Generator, sample: int = 256) -> float:
    """Median Euclidean distance between pairs of up to ``sample`` random rows of ``(N, D)``."""
    embeddings = np.asarray(embeddings, dtype=np.float32).reshape(len(embeddings), -1)
    rows = embeddings[rng.choice(len(embeddings), size=min(sample, len(embeddings)), replace=False)]
    squared = (rows**2).sum(1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * rows @ rows.T, 0))
    return float(np.median(distances[np.triu_indices(len(rows), 1)])) if len(rows) > 1 else 0.0
