"""The candidate against the served model, by evidence: a paired bootstrap over eval users.

Both bundles answer `recommend` for the same eval users; each user's blessing
metric (recall@K, NDCG@K, ...) is computed for both from those top-K lists, the
way the Evaluator computes it. The mean of the per-user differences gets a
bootstrap interval (users resampled with replacement, `RESAMPLES` times,
seeded). With `tolerance` t (relative to the served model's mean) and
`confidence` c:

- worse: the upper end of the one-sided interval at c is below -t x served:
  the candidate is worse beyond the tolerance, and is refused;
- better: the lower end is above 0;
- equal within noise otherwise, and the candidate is pushed: it is fresher (it
  knows the newest users, items and days), and a gate that refused it would
  let the served model age.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from recsearch import ranking_metrics

RESAMPLES = 2000
# Resamples drawn at once (users x this many indices in memory).
_CHUNK = 100


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The paired comparison of the candidate with the served model.

    Attributes:
      metric: The per-user metric compared, for example "recall@10".
      users: Users compared.
      candidate: The candidate's mean over them.
      served: The served model's mean over them.
      difference: candidate - served.
      low: Lower end of the interval of the difference (the 1 - confidence quantile).
      high: Upper end (the confidence quantile).
      confidence: One-sided confidence of each end.
      margin: tolerance x served: how much worse is still equal.
      verdict: "better", "equal" or "worse".
    """

    metric: str
    users: int
    candidate: float
    served: float
    difference: float
    low: float
    high: float
    confidence: float
    margin: float
    verdict: str

    def words(self) -> str:
        """The decision in words, with the difference and its interval."""
        figures = (
            f"{self.metric} {self.candidate:.4f} vs the served model's {self.served:.4f} over "
            f"{self.users:,} eval users: {self.difference:+.4f} "
            f"[{self.low:+.4f}, {self.high:+.4f}] ({2 * self.confidence - 1:.0%} interval)"
        )
        if self.verdict == "worse":
            return (
                f"worse: {figures}; worse than the tolerance {self.margin:.4f} at "
                f"{self.confidence:.0%} confidence (evaluation.tolerance, evaluation.confidence)"
            )
        if self.verdict == "better":
            return f"better: {figures}"
        return f"equal within noise: {figures}; pushed because fresher"


def per_user(top: np.ndarray, relevant: list[set], k: int, metric: str) -> np.ndarray:
    """Each user's metric@k from their top-K list and their relevant (eval) items.

    A relevant item outside the list ranks k (a miss), which every metric@k
    scores as the Evaluator does.
    """
    values = np.empty(len(relevant))
    for row, (found, wanted) in enumerate(zip(top, relevant)):
        position = {item: i for i, item in enumerate(list(found)[:k])}
        ranks = np.array([position.get(item, k) for item in wanted], dtype=np.float64)
        values[row] = ranking_metrics.user_metric(ranks, k, metric)
    return values


def interval(
    differences: np.ndarray, confidence: float, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """The (1 - confidence, confidence) quantiles of the bootstrap means of `differences`."""
    differences = np.asarray(differences, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, _CHUNK):
        draws = rng.integers(
            0, len(differences), size=(min(_CHUNK, resamples - start), len(differences))
        )
        means.append(differences[draws].mean(axis=1))
    low, high = np.quantile(np.concatenate(means), [1 - confidence, confidence])
    return float(low), float(high)


def compare(
    candidate: np.ndarray,
    served: np.ndarray,
    metric: str,
    tolerance: float,
    confidence: float,
    seed: int = 0,
) -> Comparison:
    """The paired comparison of per-user scores (higher is better), users in the same order.

    Raises:
      ValueError: No users, or the two arrays differ in length.
    """
    candidate, served = np.asarray(candidate, float), np.asarray(served, float)
    if len(candidate) != len(served) or not len(candidate):
        raise ValueError(
            f"need the same users for both models, got {len(candidate)} and {len(served)}"
        )
    differences = candidate - served
    low, high = interval(differences, confidence, seed=seed)
    margin = tolerance * float(served.mean())
    if high < -margin:
        verdict = "worse"
    elif low > 0:
        verdict = "better"
    else:
        verdict = "equal"
    return Comparison(
        metric=metric,
        users=len(candidate),
        candidate=float(candidate.mean()),
        served=float(served.mean()),
        difference=float(differences.mean()),
        low=low,
        high=high,
        confidence=confidence,
        margin=margin,
        verdict=verdict,
    )
