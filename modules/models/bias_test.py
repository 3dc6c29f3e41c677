"""The bias baseline: biases by hand on a small table, served scores, unknown users and items."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models import bias
from recsearch.testing import tiny_catalog


def test_one_pass_of_alternating_ridge_fits_by_hand():
    # Users 0, 1; items 0, 1. Ratings: (0,0)=5, (0,1)=3, (1,0)=4. Mean 4.
    users, items = np.array([0, 0, 1]), np.array([0, 1, 0])
    fitted = bias.fit_biases(users, items, np.array([5.0, 3.0, 4.0]), 2, 2, l2=1.0, iterations=1)
    assert fitted.mean == pytest.approx(4.0)
    # b_i with b_u = 0: item 0 (1 + 0) / (1 + 2), item 1 (-1) / (1 + 1).
    np.testing.assert_allclose(fitted.items, [1 / 3, -0.5], rtol=1e-6)
    # b_u given those: user 0 ((5-4-1/3) + (3-4+0.5)) / 3, user 1 (4-4-1/3) / 2.
    np.testing.assert_allclose(fitted.users, [(2 / 3 - 0.5) / 3, -1 / 6], rtol=1e-6)
    with pytest.raises(ValueError, match="l2 must be positive"):
        bias.fit_biases(users, items, np.array([5.0, 3.0, 4.0]), 2, 2, l2=0.0)


def test_more_penalty_shrinks_the_biases_toward_the_mean():
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 300), rng.integers(0, 20, 300)
    ratings = np.clip(3 + 0.1 * items - 0.05 * users + rng.normal(0, 0.5, 300), 1, 5)
    loose = bias.fit_biases(users, items, ratings, 30, 20, l2=0.1)
    tight = bias.fit_biases(users, items, ratings, 30, 20, l2=100.0)
    assert np.abs(tight.items).sum() < np.abs(loose.items).sum()
    assert np.abs(tight.users).sum() < np.abs(loose.users).sum()


def test_the_model_scores_mean_plus_biases_and_falls_back_for_the_unknown():
    catalog = tiny_catalog([[0, 1], [0]], ratings=[[5.0, 3.0], [4.0]], num_items=2)
    model = bias.BiasBaseline(catalog, l2=1.0)
    fitted = bias.fit_biases(
        np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([5.0, 3.0, 4.0]), 2, 2, l2=1.0
    )
    users = tf.constant([0, 1, 1, 0], tf.int64)
    items = tf.constant([1, 0, 1, 2], tf.int64)  # item 2: outside the vocabulary
    got = model({"user_id": users, "item_id": items}).numpy()
    expected = [
        fitted.mean + fitted.users[0] + fitted.items[1],
        fitted.mean + fitted.users[1] + fitted.items[0],
        fitted.mean + fitted.users[1] + fitted.items[1],
        fitted.mean + fitted.users[0],
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # An unknown user's query: mu + b_i.
    unknown = model.score_pairs(
        model.fallback_query()[None, :], model.candidate_vectors({"item_id": tf.constant([1])})
    )
    np.testing.assert_allclose(unknown.numpy(), [fitted.mean + fitted.items[1]], rtol=1e-5)


def test_the_rating_factor_models_start_from_the_bias_baseline():
    from recsearch.modules.models.fields import FieldEmbeddings
    from recsearch.modules.models.hybrid_mf import HybridMF
    from recsearch.modules.models.mf import BiasedMF

    catalog = tiny_catalog([[0, 1], [0, 2], [1]], ratings=[[5.0, 3.0], [4.0, 1.0], [2.0]])
    start = bias.catalog_biases(catalog, 5.0, num_users=4, num_items=4)  # + OOV rows
    assert start.users.shape == (4,) and start.users[3] == 0.0 and start.items[3] == 0.0
    baseline = bias.BiasBaseline(catalog, l2=5.0)
    pairs = {"user_id": tf.constant([0, 1, 2, 0], tf.int64), "item_id": tf.constant([1, 2, 1, 0])}
    expected = baseline(pairs).numpy()
    mf = BiasedMF(4, 4, dim=8, biases=start)
    users = FieldEmbeddings({"user_id": 4}, dim=8, first_order={"user_id": start.users})
    items = FieldEmbeddings({"item_id": 4}, dim=8, seed=7, first_order={"item_id": start.items})
    hybrid = HybridMF(users, items, global_mean=start.mean)
    for model in (mf, hybrid):
        # Only the small random factors separate them from the baseline before training.
        np.testing.assert_allclose(model(pairs).numpy(), expected, atol=0.05)
    table = items.embeddings["item_id"].embeddings.numpy()
    np.testing.assert_allclose(table[:, -1], start.items, rtol=1e-6)
