"""EASE: the closed form against per-column ridge regressions, recency weights, a trained bundle."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.apps.testing import tiny_catalog
from recsearch.modules.models import ease, history


def test_solution_is_each_columns_ridge_regression_on_the_other_items():
    rng = np.random.default_rng(0)
    x = (rng.random((30, 6)) < 0.4).astype(np.float64)
    weights = ease.solve(x.T @ x, l2=3.0)
    assert np.allclose(np.diag(weights), 0.0)
    for j in range(6):
        others = [i for i in range(6) if i != j]
        a = x[:, others]
        expected = np.linalg.solve(a.T @ a + 3.0 * np.eye(5), a.T @ x[:, j])
        np.testing.assert_allclose(weights[others, j], expected, rtol=1e-4, atol=1e-5)


def test_history_weights_halve_the_boost_every_half_life():
    weights = history.recency_weights(np.array([0, 2, 4]), half_life=2.0)
    np.testing.assert_allclose(weights, [3.0, 2.0, 1.5])
    np.testing.assert_allclose(history.recency_weights(np.array([0, 5]), 0.0), [1.0, 1.0])


def test_scores_are_the_weighted_history_times_b():
    catalog = tiny_catalog([[0, 2], [1, 2, 3], []], [[1, 0], [0, 2, 1], []], num_items=4)
    model = ease.EASE(catalog, l2=1.0, recency_half_life=1.0)
    x = np.zeros((3, 4))
    x[0, [0, 2]], x[1, [1, 2, 3]] = 1.0, 1.0
    b = ease.solve(x.T @ x, 1.0)
    users = tf.constant([0, 0, 1, 2, 0], tf.int64)
    items = tf.constant([1, 3, 0, 2, 5], tf.int64)  # item 5 is outside the vocabulary
    got = model({"user_id": users, "item_id": items}).numpy()
    query = np.zeros((3, 4))
    query[0, [0, 2]] = [2.0, 3.0]  # recency 1 and 0 with half-life 1: 1 + 2 * 2^-r
    query[1, [1, 2, 3]] = [3.0, 1.5, 2.0]
    expected = [query[0] @ b[:, 1], query[0] @ b[:, 3], query[1] @ b[:, 0], 0.0, 0.0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(l2=0.0), "positive l2"), (dict(recency_half_life=-1.0), "recency_half_life")],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ease.EASE(tiny_catalog([[0]], [[0]], 2), **kwargs)
