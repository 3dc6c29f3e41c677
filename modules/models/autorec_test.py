"""I-AutoRec: the factorised score equals the decoder's output, the loss by hand, learning."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models.autorec import ItemAutoRec
from recsearch.testing import tiny_catalog

# Users 0-2 rate items 0-3; user 2 never rated item 1.
HISTORY = [[0, 1, 3], [0, 2], [2, 3]]
RATINGS = [[5.0, 1.0, 4.0], [3.0, 2.0], [5.0, 1.0]]


def _model(**kwargs):
    return ItemAutoRec(tiny_catalog(HISTORY, ratings=RATINGS, num_items=4), **kwargs)


def test_rating_rows_are_the_items_columns_of_the_rating_matrix():
    model = _model(hidden_dim=3)
    rows = model._rating_rows(tf.constant([0, 3, 7], tf.int64)).numpy()
    np.testing.assert_array_equal(rows, [[5, 3, 0], [4, 0, 1], [0, 0, 0]])


def test_score_is_the_decoders_rebuilt_rating_and_loss_is_masked_mse():
    model = _model(hidden_dim=3)
    users = tf.constant([0, 2, 1], tf.int64)
    items = tf.constant([0, 1, 2], tf.int64)
    scores = model({"user_id": users, "item_id": items}).numpy()
    rebuilt = model.decoder(model.encoder(model._rating_rows(items))).numpy()
    np.testing.assert_allclose(scores, rebuilt[[0, 1, 2], [0, 2, 1]], rtol=1e-5, atol=1e-6)
    loss = float(model.compute_loss({"user_id": users, "item_id": items}))
    observed = model._rating_rows(items).numpy()
    mask = observed > 0
    expected = np.sum(((rebuilt - observed) ** 2)[mask]) / mask.sum()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_training_fits_the_observed_ratings():
    model = _model(hidden_dim=8)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    users = np.array([u for u, h in enumerate(HISTORY) for _ in h])
    items = np.concatenate(HISTORY)
    data = tf.data.Dataset.from_tensor_slices({"user_id": users, "item_id": items}).batch(7)
    before = float(model.compute_loss(next(iter(data))))
    model.fit(data.repeat(300), verbose=0)
    predicted = model({"user_id": tf.constant(users), "item_id": tf.constant(items)}).numpy()
    assert before > 1.0
    np.testing.assert_allclose(predicted, np.concatenate(RATINGS), atol=0.3)


def test_a_catalog_without_ratings_is_refused():
    with pytest.raises(ValueError, match="needs ratings"):
        ItemAutoRec(tiny_catalog(HISTORY))
