"""The paired comparison with the served model: per-user metrics, the interval, the verdict."""

import numpy as np
import pytest

from recsearch.components.release_gate import comparison


def test_per_user_metrics_come_from_the_top_k_lists_as_the_evaluator_scores_them():
    top = np.array([[b"a", b"b", b"c"], [b"d", b"e", b"f"]])
    relevant = [{b"b", b"z"}, {b"q"}]
    # User 1: one of min(2, 3) relevant items in the top 3; user 2: none.
    assert comparison.per_user(top, relevant, 3, "recall").tolist() == [0.5, 0.0]
    # NDCG: b at position 2 of ideal 2 hits: (1/log2 3) / (1 + 1/log2 3).
    ndcg = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert comparison.per_user(top, relevant, 3, "ndcg")[0] == pytest.approx(ndcg)
    assert comparison.per_user(top, relevant, 1, "hit_rate").tolist() == [0.0, 0.0]


def test_the_interval_of_two_users_is_their_two_differences():
    # Resampled means of {a, b}: a, (a + b) / 2 or b with chances 1/4, 1/2, 1/4, so the 5%
    # and 95% quantiles are a and b.
    low, high = comparison.interval(np.array([-0.2, 0.4]), 0.95, resamples=4000)
    assert (low, high) == (-0.2, 0.4)
    # Every user the same difference: no spread at all.
    assert comparison.interval(np.full(50, 0.1), 0.95) == pytest.approx((0.1, 0.1))


def test_identical_models_are_equal_and_pass():
    scores = np.random.default_rng(0).random(500)
    same = comparison.compare(scores, scores, "recall@10", 0.02, 0.95)
    assert same.verdict == "equal" and same.difference == 0 and (same.low, same.high) == (0, 0)
    assert same.words().startswith("equal within noise: recall@10")
    assert same.words().endswith("pushed because fresher")


def test_a_clearly_worse_model_is_refused_and_a_better_one_said_so():
    rng = np.random.default_rng(1)
    served = rng.binomial(1, 0.3, 1000).astype(float)
    worse = np.where(rng.random(1000) < 0.5, 0.0, served)  # loses half its hits
    verdict = comparison.compare(worse, served, "recall@10", 0.02, 0.95)
    assert verdict.verdict == "worse" and verdict.high < -verdict.margin
    assert verdict.words().startswith("worse: recall@10")
    better = comparison.compare(served, worse, "recall@10", 0.02, 0.95)
    assert better.verdict == "better" and better.low > 0


def test_a_retrain_equal_within_noise_passes_whatever_the_seed():
    rng = np.random.default_rng(2)
    served = rng.binomial(1, 0.18, 1000).astype(float)
    # Another training: 22 users lose their hit and 20 gain one (-0.002, as the sample
    # shop's reruns measured).
    candidate = served.copy()
    candidate[rng.choice(np.flatnonzero(served == 1), 22, replace=False)] = 0.0
    candidate[rng.choice(np.flatnonzero(served == 0), 20, replace=False)] = 1.0
    assert candidate.mean() - served.mean() == pytest.approx(-0.002)
    verdicts = {
        comparison.compare(candidate, served, "recall@10", 0.02, 0.95, seed=s).verdict
        for s in range(10)
    }
    assert verdicts == {"equal"}


def test_the_users_must_be_the_same():
    with pytest.raises(ValueError, match="same users"):
        comparison.compare(np.ones(3), np.ones(4), "recall@10", 0.02, 0.95)
