"""Hybrid MF: the score is mean + field biases + the dot product of summed field vectors."""

import numpy as np
import tensorflow as tf

from recsearch.modules.models.fields import FieldEmbeddings
from recsearch.modules.models.hybrid_mf import HybridMF

BATCH = {
    "user_id": tf.constant([0, 1, 2], tf.int64),
    "item_id": tf.constant([3, 0, 4], tf.int64),  # item 4: cold (its OOV row)
    "item__publisher": tf.constant([1, 1, 2], tf.int64),
    "item__pages": tf.constant([0.5, -1.0, 2.0]),
    "rating": tf.constant([4.0, 2.0, 5.0]),
}


def _model():
    users = FieldEmbeddings({"user_id": 3}, dim=4, seed=1)
    items = FieldEmbeddings({"item_id": 5, "item__publisher": 3}, ("item__pages",), dim=4, seed=2)
    return HybridMF(users, items, global_mean=3.5)


def test_scores_are_mean_plus_biases_plus_the_summed_vectors_product():
    model = _model()
    got = model(BATCH).numpy()
    user_rows = model.user_fields.embeddings["user_id"](BATCH["user_id"]).numpy()
    item_rows = model.item_fields.embeddings["item_id"](BATCH["item_id"]).numpy()
    publisher = model.item_fields.embeddings["item__publisher"](BATCH["item__publisher"]).numpy()
    pages = BATCH["item__pages"].numpy()[:, None] * model.item_fields.numeric_weights.numpy()[0]
    item_parts = item_rows + publisher + pages  # [B, k + 1]: vector, then the weight
    expected = 3.5 + user_rows[:, 4] + item_parts[:, 4]
    expected += np.sum(user_rows[:, :4] * item_parts[:, :4], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The same score as serving's inner product of query and candidate vectors.
    served = model.score_matrix(model.query_vectors(BATCH), model.candidate_vectors(BATCH))
    np.testing.assert_allclose(np.diag(served.numpy()), got, rtol=1e-5, atol=1e-6)


def test_training_lowers_the_squared_error_and_a_cold_item_is_placed_by_its_fields():
    model = _model()
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    before = float(model.compute_loss(BATCH))
    data = tf.data.Dataset.from_tensors(BATCH).repeat(60)
    model.fit(data, epochs=1, verbose=0)
    assert float(model.compute_loss(BATCH)) < before / 4
    # Items 4 and 0 share no id row; their publisher rows differ, so their vectors differ.
    vectors = model.candidate_vectors(
        {
            "item_id": tf.constant([4, 4], tf.int64),
            "item__publisher": tf.constant([1, 2], tf.int64),
            "item__pages": tf.constant([0.0, 0.0]),
        }
    ).numpy()
    assert not np.allclose(vectors[0], vectors[1])
