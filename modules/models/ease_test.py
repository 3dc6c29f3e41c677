"""EASE: the closed form against per-column ridge regressions, recency weights, a trained bundle."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models import ease
from recsearch.modules.training_data import Catalog


def _catalog(history: list[list[int]], recency: list[list[int]], num_items: int) -> Catalog:
    """A catalog of users (no OOV rows) with the given distinct items and recency ranks."""
    splits = np.cumsum([0] + [len(h) for h in history]).astype(np.int64)
    flat = np.array([i for h in history for i in h], dtype=np.int64)
    return Catalog(
        num_users=len(history),
        num_items=num_items,
        user_vocab_size=len(history),
        item_vocab_size=num_items,
        item_ids=np.array([f"i{i}" for i in range(num_items)], dtype=object),
        item_index=np.arange(num_items),
        item_counts=np.bincount(flat, minlength=num_items),
        seen_row_splits=splits,
        seen_items=flat,
        user_features={},
        item_features={},
        seen_recency=np.array([r for rs in recency for r in rs], dtype=np.int64),
    )


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
    weights = ease.history_weights(np.array([0, 2, 4]), half_life=2.0)
    np.testing.assert_allclose(weights, [3.0, 2.0, 1.5])
    np.testing.assert_allclose(ease.history_weights(np.array([0, 5]), 0.0), [1.0, 1.0])


def test_scores_are_the_weighted_history_times_b():
    catalog = _catalog([[0, 2], [1, 2, 3], []], [[1, 0], [0, 2, 1], []], num_items=4)
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
        ease.EASE(_catalog([[0]], [[0]], 2), **kwargs)


@pytest.mark.slow
def test_trained_through_run_fn_and_served_after_reload(transformed, tmp_path):
    from recsearch import testing
    from recsearch.modules import trainer

    config = transformed.config
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, name="ease", recency_half_life=5.0)
    )
    version_dir = str(tmp_path / "serving" / "1")
    args = testing.fn_args(
        config,
        transformed.transformed_dir,
        transformed.transform_graph,
        version_dir,
        str(tmp_path / "run"),
    )
    trainer.run_fn(args)
    model = tf.saved_model.load(version_dir)
    assert {"recommend", "predict", "similar_items", "embed_items", "serving_default"} <= set(
        model.signatures
    )
    users = tf.constant(["u00001", "u00002", "nobody"])
    out = model.signatures["recommend"](user_id=users)
    ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
    assert ids.shape == (3, config.serving.top_k)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    # predict scores the same pairs as recommend ranks them.
    again = model.signatures["predict"](
        user_id=tf.constant(["u00001"] * 3), item_id=tf.constant(ids[0][:3])
    )["scores"].numpy()
    np.testing.assert_allclose(again, scores[0][:3], rtol=1e-5, atol=1e-6)
    # Cold items have no column in B: their embedding is zero.
    vectors = model.signatures["embed_items"](item_id=tf.constant(["new-001", "i0001"]))
    norms = np.linalg.norm(vectors["embeddings"].numpy(), axis=1)
    assert norms[0] == 0.0 and norms[1] > 0.0
    assert os.path.isfile(os.path.join(str(tmp_path / "run"), trainer.HISTORY_FILE))
