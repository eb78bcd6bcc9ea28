"""Cold start: typical, diverse picks for the first labels, before a model's uncertainty means much.

TypiClust (Hacohen, Dekel and Weinshall, ICML 2022): cluster the labelled and unlabelled items
together into as many clusters as there will be labels; from the largest clusters that hold the
fewest labels, pick each cluster's most typical item, the one whose nearest neighbours are
closest. At 20 labels an uncertainty score mostly reflects an untrained model; typical picks
cover the data's modes instead. Embeddings must exist before any label: :func:`pixel_pca` gives
them from the pool's pixels alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scikit-learn is imported where it is used: `train` never needs its 2 s
    from sklearn.decomposition import PCA

NEIGHBOURS = 20  # TypiClust's k for typicality
MAX_CLUSTERS = 500  # TypiClust's cap on the number of clusters


def pixel_pca(images: np.ndarray, dims: int = 50, seed: int = 0) -> PCA:
    """A PCA of flattened images ``(N, ...)`` to ``dims`` components, fitted without labels."""
    from sklearn.decomposition import PCA

    flat = images.reshape(len(images), -1).astype(np.float32) / 255
    return PCA(dims, svd_solver="randomized", random_state=seed).fit(flat)


def embed_pixels(pca: PCA, images: np.ndarray) -> np.ndarray:
    """Images ``(N, ...)`` in the coordinates of :func:`pixel_pca`, float32 ``(N, dims)``."""
    flat = images.reshape(len(images), -1).astype(np.float32) / 255
    return pca.transform(flat).astype(np.float32)


def typicality(
    embeddings: np.ndarray, neighbours: int = NEIGHBOURS, chunk: int = 1024
) -> np.ndarray:
    """Inverse mean distance to each row's ``neighbours`` nearest other rows of ``(N, D)``.

    Distances are computed ``chunk`` rows at a time (memory ``chunk x N``).
    """
    k = min(neighbours, len(embeddings) - 1)
    if k == 0:
        return np.ones(len(embeddings))
    embeddings = embeddings.astype(np.float32)
    squared = (embeddings**2).sum(1)
    mean_distance = np.empty(len(embeddings))
    for start in range(0, len(embeddings), chunk):
        rows = embeddings[start : start + chunk]
        gram = squared[start : start + chunk, None] + squared[None] - 2 * rows @ embeddings.T
        distances = np.sqrt(np.maximum(gram, 0))
        nearest = np.partition(distances, k, axis=1)[:, 1 : k + 1]  # column 0: the row itself
        mean_distance[start : start + chunk] = nearest.mean(1)
    return 1.0 / (mean_distance + 1e-12)


def select_typical(
    pool: np.ndarray,
    labelled: np.ndarray,
    n: int,
    seed: int = 0,
    max_clusters: int = MAX_CLUSTERS,
) -> tuple[np.ndarray, np.ndarray]:
    """TypiClust's picks from ``pool``.

    Args:
        pool: embeddings of the unlabelled items, ``(N, D)``.
        labelled: embeddings of the labelled items, ``(L, D)``.
        n: how many to pick.
        seed: k-means initialization.
        max_clusters: at most this many clusters.

    Returns:
        ``(indices into pool, typicality)``, one pick per cluster, largest uncovered clusters
        first (fewer than ``n`` only when fewer clusters hold pool items).
    """
    from sklearn.cluster import MiniBatchKMeans

    n = min(n, len(pool))
    everything = np.concatenate([labelled, pool]).astype(np.float32)
    n_clusters = min(len(labelled) + n, max_clusters, len(everything))
    clusters = MiniBatchKMeans(
        n_clusters, random_state=seed, n_init=3, batch_size=4096
    ).fit_predict(everything)
    labels_in = np.bincount(clusters[: len(labelled)], minlength=n_clusters)
    pool_clusters = clusters[len(labelled) :]
    sizes = np.bincount(pool_clusters, minlength=n_clusters)
    # Fewest labels first, then the largest; clusters with no pool item left come last.
    order = np.lexsort((-sizes, labels_in, sizes == 0))
    picks: list[int] = []
    scores: list[float] = []
    for cluster in order[:n]:
        members = np.flatnonzero(pool_clusters == cluster)
        if len(members) == 0:
            break
        typical = typicality(pool[members])
        best = int(np.argmax(typical))
        picks.append(int(members[best]))
        scores.append(float(typical[best]))
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)
