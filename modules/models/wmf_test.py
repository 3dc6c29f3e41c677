"""Weighted MF: the Gramian form equals the sum over every cell; training generalises."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models.wmf import WeightedMF
from recsearch.testing import tiny_catalog


def test_loss_is_observed_error_plus_weighted_squares_of_every_cell():
    catalog = tiny_catalog([[0, 2], [1]], num_items=3)  # user 0 has 2 items, user 1 has 1
    model = WeightedMF(catalog, dim=3, unobserved_weight=0.5, seed=1)
    batch = {"user_id": tf.constant([0, 0, 1]), "item_id": tf.constant([0, 2, 1])}
    got = float(model.compute_loss(batch))
    p = model.user_embedding.embeddings.numpy()
    q = model.item_embedding.embeddings.numpy()
    scores = p @ q.T
    observed = [(1 - scores[0, 0]) ** 2, (1 - scores[0, 2]) ** 2, (1 - scores[1, 1]) ** 2]
    # Each user's whole-catalog term is split over their interactions: 1/2, 1/2, 1.
    every_cell = [np.sum(scores[0] ** 2) / 2, np.sum(scores[0] ** 2) / 2, np.sum(scores[1] ** 2)]
    expected = np.mean(np.array(observed) + 0.5 * np.array(every_cell))
    assert got == pytest.approx(expected, rel=1e-5)


def test_training_scores_seen_cells_above_unseen():
    history = [[0, 1, 2], [0, 1], [3, 4, 5], [4, 5]]
    catalog = tiny_catalog(history, num_items=6)
    model = WeightedMF(catalog, dim=2, unobserved_weight=0.2, seed=0)  # low rank: must generalise
    users = np.repeat(np.arange(4), [len(h) for h in history])
    data = tf.data.Dataset.from_tensor_slices(
        {"user_id": users, "item_id": np.concatenate(history)}
    ).batch(11)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05))
    model.fit(data.repeat(), steps_per_epoch=300, epochs=1, verbose=0)
    scores = model.user_embedding.embeddings.numpy() @ model.item_embedding.embeddings.numpy().T
    # User 1 never had item 2, but users like them did; items 3-5 belong to the other group.
    assert scores[1, 2] > scores[1, 3:].max()
    assert scores[3, 3] > scores[3, :3].max()


def test_bad_arguments():
    catalog = tiny_catalog([[0]])
    with pytest.raises(ValueError, match="unobserved_weight"):
        WeightedMF(catalog, unobserved_weight=-1.0)
