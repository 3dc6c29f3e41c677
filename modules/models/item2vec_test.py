"""Item2vec: contexts come from the user's other items; co-occurring items end up close."""

import numpy as np
import tensorflow as tf

from recsearch.modules.models.item2vec import Item2Vec
from recsearch.testing import tiny_catalog


def test_context_is_another_item_of_the_same_user():
    catalog = tiny_catalog([[0, 3, 5], [2], [1, 4]], num_items=6)
    model = Item2Vec(catalog, dim=4)
    users = tf.constant([0, 0, 0, 1, 2] * 40, tf.int64)
    items = tf.constant([0, 3, 5, 2, 4] * 40, tf.int64)
    contexts = model._contexts(users, items).numpy().reshape(40, 5)
    assert set(contexts[:, 0]) == {3, 5} and set(contexts[:, 1]) == {0, 5}
    assert set(contexts[:, 2]) == {0, 3}
    assert set(contexts[:, 3]) == {2}  # alone: the item itself
    assert set(contexts[:, 4]) == {1}


def test_query_is_the_recency_weighted_mean_of_the_history():
    catalog = tiny_catalog([[0, 1]], recency=[[1, 0]], num_items=3)
    model = Item2Vec(catalog, dim=4, recency_half_life=1.0)
    vectors = model.candidate_vectors({"item_id": tf.constant([0, 1, 7], tf.int64)}).numpy()
    assert not vectors[2].any()  # outside the vocabulary
    query = model.query_vectors({"user_id": tf.constant([0], tf.int64)}).numpy()[0]
    # Weights 1 + 2 * 2^-1 = 2 for item 0 (one item after it) and 3 for item 1 (the latest).
    np.testing.assert_allclose(query, (2 * vectors[0] + 3 * vectors[1]) / 5, rtol=1e-5)


def test_items_bought_together_become_similar():
    rng = np.random.default_rng(1)
    groups = [range(0, 6), range(6, 12)]
    history = [sorted(rng.choice(groups[u % 2], 3, replace=False)) for u in range(60)]
    model = Item2Vec(tiny_catalog(history), dim=8, temperature=0.2)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    users = np.repeat(np.arange(60), 3)
    items = np.concatenate(history)
    data = tf.data.Dataset.from_tensor_slices({"user_id": users, "item_id": items})
    model.fit(data.shuffle(180, seed=0).batch(32).repeat(40), verbose=0)
    vectors = model.candidate_vectors({"item_id": tf.range(12, dtype=tf.int64)}).numpy()
    cosine = vectors @ vectors.T
    same = np.mean([cosine[i, j] for g in groups for i in g for j in g if i != j])
    across = np.mean([cosine[i, j] for i in groups[0] for j in groups[1]])
    assert same > across + 0.3
