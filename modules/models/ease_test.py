"""EASE: the closed form against per-column ridge regressions, recency weights, a trained bundle."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import sparse

from recsearch.modules.models import ease, history
from recsearch.testing import tiny_catalog


@pytest.mark.parametrize("users", [30, 4])  # more users than items: primal; fewer: Woodbury
def test_solution_is_each_columns_ridge_regression_on_the_other_items(users):
    rng = np.random.default_rng(0)
    x = (rng.random((users, 6)) < 0.4).astype(np.float64)
    weights = ease.solve_dense(sparse.csr_matrix(x), l2=3.0)
    assert weights.dtype == np.float32
    assert np.allclose(np.diag(weights), 0.0)
    for j in range(6):
        others = [i for i in range(6) if i != j]
        a = x[:, others]
        expected = np.linalg.solve(a.T @ a + 3.0 * np.eye(5), a.T @ x[:, j])
        np.testing.assert_allclose(weights[others, j], expected, rtol=1e-4, atol=1e-5)


def test_pruning_keeps_each_rows_largest_magnitudes_sorted_by_column():
    weights = np.array(
        [[0.0, -0.9, 0.1, 0.5], [0.2, 0.0, -0.3, 0.0], [0.4, 0.4, 0.0, -0.05]], np.float32
    )
    splits, columns, values = ease.prune(weights, neighbors=2)
    np.testing.assert_array_equal(splits, [0, 2, 4, 6])
    np.testing.assert_array_equal(columns, [1, 3, 0, 2, 0, 1])
    np.testing.assert_allclose(values, [-0.9, 0.5, 0.2, -0.3, 0.4, 0.4])
    # 0 keeps every nonzero weight; zeros are never stored.
    splits, columns, _ = ease.prune(weights, neighbors=0)
    np.testing.assert_array_equal(np.diff(splits), [3, 2, 3])


def test_history_weights_halve_the_boost_every_half_life():
    weights = history.recency_weights(np.array([0, 2, 4]), half_life=2.0)
    np.testing.assert_allclose(weights, [3.0, 2.0, 1.5])
    np.testing.assert_allclose(history.recency_weights(np.array([0, 5]), 0.0), [1.0, 1.0])


def test_scores_are_the_weighted_history_times_b():
    catalog = tiny_catalog([[0, 2], [1, 2, 3], []], [[1, 0], [0, 2, 1], []], num_items=4)
    model = ease.EASE(catalog, l2=1.0, recency_half_life=1.0, neighbors=0)
    assert model.dense  # a small catalog keeps every weight, as a matrix
    x = np.zeros((3, 4))
    x[0, [0, 2]], x[1, [1, 2, 3]] = 1.0, 1.0
    b = ease.solve_dense(sparse.csr_matrix(x), 1.0)
    users = tf.constant([0, 0, 1, 2, 0], tf.int64)
    items = tf.constant([1, 3, 0, 2, 5], tf.int64)  # item 5 is outside the vocabulary
    got = model({"user_id": users, "item_id": items}).numpy()
    query = np.zeros((3, 4))
    query[0, [0, 2]] = [2.0, 3.0]  # recency 1 and 0 with half-life 1: 1 + 2 * 2^-r
    query[1, [1, 2, 3]] = [3.0, 1.5, 2.0]
    expected = [query[0] @ b[:, 1], query[0] @ b[:, 3], query[1] @ b[:, 0], 0.0, 0.0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Every user's whole row, as serving asks for it; unknown user 7 gets zeros.
    rows = model.vocabulary_scores(tf.constant([0, 1, 2, 7], tf.int64)).numpy()
    np.testing.assert_allclose(rows[:3], query @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(rows[3], np.zeros(4))
    np.testing.assert_allclose(model.item_rows(tf.constant([2], tf.int64)).numpy()[0], b[2])


def test_a_pruned_model_scores_with_the_kept_weights_only():
    rng = np.random.default_rng(3)
    # 70 users: three chunks of SCORE_CHUNK (32), the last one padded.
    histories = [sorted(rng.choice(8, size=rng.integers(1, 6), replace=False)) for _ in range(70)]
    catalog = tiny_catalog(histories, [list(range(len(h)))[::-1] for h in histories], 8)
    model = ease.EASE(catalog, l2=2.0, neighbors=3)
    assert not model.dense and ease.SCORE_CHUNK == 32
    x = np.zeros((70, 8))
    for user, items in enumerate(histories):
        x[user, items] = 1.0
    splits, columns, values = ease.prune(ease.solve_dense(sparse.csr_matrix(x), 2.0), 3)
    kept = sparse.csr_matrix((values, columns, splits), shape=(8, 8)).toarray()
    assert (np.count_nonzero(kept, axis=1) <= 3).all()
    rows = model.vocabulary_scores(tf.range(70, dtype=tf.int64)).numpy()
    np.testing.assert_allclose(rows, x @ kept, rtol=1e-5, atol=1e-6)
    # A batch of pairs scores each distinct user once; the pairs pick from their rows.
    users = tf.constant([5, 40, 5, 69], tf.int64)
    items = tf.constant([0, 7, 3, 9], tf.int64)  # item 9: outside the vocabulary
    expected = [(x @ kept)[5, 0], (x @ kept)[40, 7], (x @ kept)[5, 3], 0.0]
    got = model({"user_id": users, "item_id": items}).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(l2=0.0), "positive l2"),
        (dict(recency_half_life=-1.0), "recency_half_life"),
        (dict(neighbors=-1), "neighbors"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ease.EASE(tiny_catalog([[0]], [[0]], 2), **kwargs)


def test_the_default_keeps_as_many_weights_as_fit_the_budget():
    assert ease.kept_neighbors(0, 1_682) == 1_682  # MovieLens 100K stays dense
    assert ease.kept_neighbors(0, 10_000) == 1_250
    assert ease.kept_neighbors(0, 30_000) == 416
    assert ease.kept_neighbors(200, 10_000) == 200
    assert ease.kept_neighbors(200, 50) == 50
