"""MF + AutoRec: the served inner product is the mean of the two parts, the loss their sum."""

import numpy as np
import tensorflow as tf

from recsearch.modules.models.autorec import ItemAutoRec
from recsearch.modules.models.mf import BiasedMF
from recsearch.modules.models.mf_autorec import MFAutoRec
from recsearch.testing import tiny_catalog

HISTORY = [[0, 1, 3], [0, 2], [2, 3]]
RATINGS = [[5.0, 1.0, 4.0], [3.0, 2.0], [5.0, 1.0]]


def _model() -> MFAutoRec:
    catalog = tiny_catalog(HISTORY, ratings=RATINGS, num_items=4)
    mf = BiasedMF(num_users=4, num_items=5, dim=3, global_mean=3.0, seed=1)
    return MFAutoRec(mf, ItemAutoRec(catalog, hidden_dim=4, seed=2))


def test_score_is_the_mean_of_the_parts_on_every_serving_path():
    model = _model()
    features = {
        "user_id": tf.constant([0, 2, 1], tf.int64),
        "item_id": tf.constant([0, 1, 2], tf.int64),
    }
    mf, autorec = model.mf(features).numpy(), model.autorec(features).numpy()
    np.testing.assert_allclose(model(features).numpy(), (mf + autorec) / 2, rtol=1e-5, atol=1e-6)
    # score_matrix (recommend) agrees with the pairwise score.
    matrix = model.score_matrix(
        model.query_vectors(features), model.candidate_vectors(features)
    ).numpy()
    np.testing.assert_allclose(np.diag(matrix), (mf + autorec) / 2, rtol=1e-5, atol=1e-6)
    # An unknown user gets the mean of the parts' fallbacks.
    fallback = model.fallback_query()[None, :]
    items = model.candidate_vectors(features)
    expected = (
        model.mf.score_matrix(
            model.mf.fallback_query()[None, :], model.mf.candidate_vectors(features)
        )
        + model.autorec.score_matrix(
            model.autorec.fallback_query()[None, :], model.autorec.candidate_vectors(features)
        )
    ) / 2
    np.testing.assert_allclose(
        model.score_matrix(fallback, items).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6
    )


def test_loss_is_the_sum_of_the_parts_losses():
    model = _model()
    features = {
        "user_id": tf.constant([0, 1], tf.int64),
        "item_id": tf.constant([3, 0], tf.int64),
        "rating": tf.constant([4.0, 3.0]),
    }
    expected = float(model.mf.compute_loss(features)) + float(model.autorec.compute_loss(features))
    np.testing.assert_allclose(float(model.compute_loss(features)), expected, rtol=1e-6)
