"""Ranking metrics against values computed by hand."""

import math

import numpy as np
import pytest

from recsearch import ranking_metrics as rm


def test_user_metrics_by_hand():
    # Relevant items at ranks 0, 3 and 12 with K=10: two hits out of three.
    m = rm.user_metrics(np.array([0, 3, 12]), k=10)
    assert m["recall"] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(2) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"] == pytest.approx(dcg / ideal)
    assert m["mrr"] == pytest.approx(1.0)
    assert m["hit_rate"] == 1.0


def test_one_metric_alone_is_the_same_number():
    # The Evaluator asks for one metric at a time; the same bits as all four at once.
    for ranks in ([0, 3, 12], [4], [10, 11], list(range(12)), [2.0, 2.0, 7.0]):
        every = rm.user_metrics(np.array(ranks), k=10)
        assert {m: rm.user_metric(np.array(ranks), 10, m) for m in rm.METRICS} == every
    assert rm.user_metric(np.array([0, 3, 12]), 10, "ndcg") == pytest.approx(
        (1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    )
    with pytest.raises(KeyError):
        rm.user_metric(np.array([1]), 10, "precision")
    with pytest.raises(ValueError, match="at least one relevant item"):
        rm.user_metric(np.array([]), 10, "recall")


def test_recall_is_capped_by_k():
    # Twelve relevant items, the first ten ranked on top: a perfect top-10.
    m = rm.user_metrics(np.arange(12), k=10)
    assert m["recall"] == 1.0
    assert m["ndcg"] == pytest.approx(1.0)


def test_user_metrics_miss_and_late_first_hit():
    m = rm.user_metrics(np.array([10, 11]), k=10)
    assert m == {"recall": 0.0, "ndcg": 0.0, "mrr": 0.0, "hit_rate": 0.0}
    m = rm.user_metrics(np.array([4]), k=10)
    assert m["mrr"] == pytest.approx(0.2)
    assert m["ndcg"] == pytest.approx(1 / math.log2(6))


def test_mean_over_users_skips_empty():
    result = rm.mean_metrics([np.array([0]), np.array([]), np.array([20])], k=10)
    assert result["recall"] == pytest.approx(0.5)
    assert result["hit_rate"] == pytest.approx(0.5)


def test_ranks_exclude_seen_and_break_ties_by_index():
    scores = np.array([0.9, 0.5, 0.5, 0.8, 0.1])
    exclude = np.array([True, False, False, False, False])
    # Item 0 is excluded; item 2 ties with item 1 and comes after it.
    assert list(rm.ranks_of(scores, np.array([3, 1, 2, 4]), exclude)) == [0, 1, 2, 3]
    assert list(rm.ranks_of(scores, np.array([3]), None)) == [1]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least one"):
        rm.user_metrics(np.array([]), k=10)
    with pytest.raises(ValueError, match="k must be positive, got 0"):
        rm.user_metrics(np.array([1]), k=0)


def test_catalog_coverage():
    assert rm.catalog_coverage(np.array([[0, 1], [1, 2]]), catalog_size=10) == pytest.approx(0.3)


def test_grouped_metrics_groups_ranks_by_user():
    # u1: relevant items at ranks 0 and 5; u2: one at rank 2 (out of order on purpose).
    users = np.array(["u1", "u2", "u1"])
    ranks = np.array([0, 2, 5])
    grouped = rm.grouped_metrics(users, ranks, k=3)
    expected = rm.mean_metrics([np.array([0, 5]), np.array([2])], k=3)
    assert grouped == expected
    assert grouped["recall"] == (0.5 + 1.0) / 2  # u1 finds 1 of 2 in the top 3, u2 1 of 1
