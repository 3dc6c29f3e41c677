"""Top-K ranking metrics over the whole catalog, per user, in NumPy.

One definition serves the Evaluator's TFMA metric, the benchmarks and the
tests. A user's relevant items are given by their 0-based ranks in the full
ranking of candidates (items the user saw in training excluded); rank r is
in the top K when r < K.

For a user with n relevant items and hits h = #{r < K}:
  recall@K   = h / min(n, K)   (so a perfect ranking scores 1 even when n > K)
  hit_rate@K = 1 if h > 0 else 0
  mrr@K      = 1 / (min rank + 1) if that rank < K else 0
  ndcg@K     = sum_{r < K} 1/log2(r + 2)  /  sum_{i < min(n, K)} 1/log2(i + 2)
Metrics are averaged over users with at least one relevant item.
"""

from __future__ import annotations

import functools

import numpy as np

METRICS = ("recall", "ndcg", "mrr", "hit_rate")


def user_metrics(ranks: np.ndarray, k: int) -> dict[str, float]:
    """Metrics of one user from the ranks of their relevant items.

    Raises:
      ValueError: `ranks` is empty or `k` is not positive.
    """
    ranks = _checked(ranks, k)
    return {metric: _METRIC[metric](ranks, k) for metric in METRICS}


def user_metric(ranks: np.ndarray, k: int, metric: str) -> float:
    """One of `user_metrics`, computing only it (the Evaluator's metrics each read one).

    Raises:
      ValueError: `ranks` is empty or `k` is not positive.
      KeyError: An unknown metric.
    """
    return _METRIC[metric](_checked(ranks, k), k)


def _checked(ranks: np.ndarray, k: int) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=np.float64).reshape(-1)
    if ranks.size == 0:
        raise ValueError("a user needs at least one relevant item")
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return ranks


@functools.lru_cache(maxsize=1024)
def _ideal_dcg(hits: int) -> float:
    return float(np.sum(1.0 / np.log2(np.arange(hits) + 2.0)))


def _recall(ranks: np.ndarray, k: int) -> float:
    return float((ranks < k).sum() / min(ranks.size, k))


def _ndcg(ranks: np.ndarray, k: int) -> float:
    return float(np.sum(1.0 / np.log2(ranks[ranks < k] + 2.0)) / _ideal_dcg(min(ranks.size, k)))


def _mrr(ranks: np.ndarray, k: int) -> float:
    first = ranks.min()
    return float(1.0 / (first + 1.0)) if first < k else 0.0


def _hit_rate(ranks: np.ndarray, k: int) -> float:
    return float((ranks < k).any())


_METRIC = {"recall": _recall, "ndcg": _ndcg, "mrr": _mrr, "hit_rate": _hit_rate}


def mean_metrics(ranks_per_user: list[np.ndarray], k: int) -> dict[str, float]:
    """Metrics averaged over users; users without relevant items are skipped."""
    rows = [user_metrics(r, k) for r in ranks_per_user if len(r)]
    if not rows:
        raise ValueError("no user has a relevant item")
    return {m: float(np.mean([row[m] for row in rows])) for m in METRICS}


def grouped_metrics(users: np.ndarray, ranks: np.ndarray, k: int) -> dict[str, float]:
    """Metrics of ranks given one per relevant item, grouped by their user and averaged."""
    users, ranks = np.asarray(users), np.asarray(ranks)
    order = np.argsort(users, kind="stable")
    _, starts = np.unique(users[order], return_index=True)
    return mean_metrics(np.split(ranks[order], starts[1:]), k)


def ranks_of(scores: np.ndarray, relevant: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
    """Ranks of `relevant` item indices in one user's score vector.

    Rank = number of non-excluded items that score higher, plus those that
    score the same and have a lower index (the order `top_k` returns).

    Args:
      scores: Scores of every candidate item, shape [N].
      relevant: Indices of the relevant items.
      exclude: Boolean mask [N] of items left out of the ranking, or None.
    """
    scores = np.asarray(scores, dtype=np.float64)
    live = np.ones_like(scores, dtype=bool) if exclude is None else ~exclude
    index = np.arange(scores.size)
    out = np.empty(len(relevant), dtype=np.int64)
    for i, item in enumerate(relevant):
        s = scores[item]
        ahead = (scores > s) | ((scores == s) & (index < item))
        out[i] = int(np.count_nonzero(ahead & live))
    return out


def catalog_coverage(top_items: np.ndarray, catalog_size: int) -> float:
    """Share of the catalog that appears in at least one user's top-K list."""
    return float(np.unique(np.asarray(top_items).reshape(-1)).size / catalog_size)
