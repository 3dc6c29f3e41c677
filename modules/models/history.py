"""Users' training histories inside a model, for history-based models (EASE, Mult-VAE, item2vec).

These models answer from what a user did rather than from a learned user
embedding: the history is part of the model, so it is exported with it and
`recommend` still needs nothing but a user id.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from recsearch.modules.training_data import Catalog


def recency_weights(recency: np.ndarray, half_life: float) -> np.ndarray:
    """Weight of each seen item from its recency rank: 1 + 2 * 2^(-r/h); all 1 when h <= 0."""
    if half_life <= 0:
        return np.ones(len(recency), dtype=np.float32)
    return (1.0 + 2.0 * np.power(2.0, -recency / half_life)).astype(np.float32)


class UserHistory(tf.Module):
    """Each user's distinct vocabulary items (CSR over user indices) with a weight per item."""

    def __init__(self, catalog: Catalog, half_life: float = 0.0, name: str = "history"):
        super().__init__(name=name)
        self.num_items = int(catalog.item_vocab_size)
        self.items = tf.Variable(catalog.seen_items, trainable=False, name="items")
        self.weights = tf.Variable(
            recency_weights(catalog.seen_recency, half_life), trainable=False, name="weights"
        )
        self.row_splits = tf.Variable(catalog.seen_row_splits, trainable=False, name="row_splits")

    def ragged(self, users: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """(items, weights) of each user, [B, None] each."""
        users = tf.cast(users, tf.int64)
        items = tf.RaggedTensor.from_row_splits(self.items, self.row_splits)
        weights = tf.RaggedTensor.from_row_splits(self.weights, self.row_splits)
        return tf.gather(items, users), tf.gather(weights, users)

    def dense(self, users: tf.Tensor) -> tf.Tensor:
        """Weighted multi-hot rows [B, V]; users without history get zeros."""
        items, weights = self.ragged(users)
        rows = tf.cast(items.value_rowids(), tf.int64)
        indices = tf.stack([rows, items.flat_values], axis=1)
        shape = tf.stack([tf.size(users, tf.int64), tf.constant(self.num_items, tf.int64)])
        return tf.scatter_nd(indices, weights.flat_values, shape)
