"""Sparse interaction matrices inside a model: users' histories (EASE, Mult-VAE, item2vec)
and items' ratings (AutoRec).

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


class SparseRows(tf.Module):
    """A sparse matrix held in the model as CSR rows: row -> (columns, values).

    Rows at or beyond `num_rows` (out-of-vocabulary indices) are empty.
    """

    def __init__(
        self,
        row_splits: np.ndarray,
        columns: np.ndarray,
        values: np.ndarray,
        num_columns: int,
        name: str = "sparse_rows",
        column_dtype: type = np.int64,
    ):
        """`column_dtype`: how column indices are stored (np.int32 halves a large
        matrix's index bytes); they are read back as int64."""
        super().__init__(name=name)
        self.num_rows = len(row_splits) - 1
        self.num_columns = int(num_columns)
        self.columns = tf.Variable(
            np.asarray(columns, column_dtype), trainable=False, name="columns"
        )
        self.values = tf.Variable(np.asarray(values, np.float32), trainable=False, name="values")
        self.row_splits = tf.Variable(
            np.asarray(row_splits, np.int64), trainable=False, name="row_splits"
        )

    def ragged(self, rows: tf.Tensor) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """(columns, values) of each row, [B, None] each."""
        rows = tf.cast(rows, tf.int64)
        known = rows < self.num_rows
        safe = tf.where(known, rows, 0)
        columns = tf.gather(
            tf.RaggedTensor.from_row_splits(self.columns, self.row_splits, validate=False), safe
        )
        columns = columns.with_flat_values(tf.cast(columns.flat_values, tf.int64))
        values = tf.gather(
            tf.RaggedTensor.from_row_splits(self.values, self.row_splits, validate=False), safe
        )
        keep = columns.with_flat_values(tf.gather(known, columns.value_rowids()))
        return tf.ragged.boolean_mask(columns, keep), tf.ragged.boolean_mask(values, keep)

    def dense(self, rows: tf.Tensor) -> tf.Tensor:
        """The rows as a dense [B, num_columns] matrix (zeros where nothing is stored)."""
        columns, values = self.ragged(rows)
        indices = tf.stack([columns.value_rowids(), columns.flat_values], axis=1)
        shape = tf.stack([tf.size(rows, tf.int64), tf.constant(self.num_columns, tf.int64)])
        return tf.scatter_nd(indices, values.flat_values, shape)


def user_history(catalog: Catalog, half_life: float = 0.0) -> SparseRows:
    """Each user's distinct vocabulary items, weighted by recency: a [users, items] matrix."""
    return SparseRows(
        catalog.seen_row_splits,
        catalog.seen_items,
        recency_weights(catalog.seen_recency, half_life),
        catalog.item_vocab_size,
        name="history",
    )


def item_ratings(catalog: Catalog) -> SparseRows:
    """Each vocabulary item's ratings by user: the transposed [items, users] rating matrix."""
    users = np.repeat(np.arange(catalog.num_users), np.diff(catalog.seen_row_splits))
    order = np.lexsort((users, catalog.seen_items))
    splits = np.searchsorted(catalog.seen_items[order], np.arange(catalog.item_vocab_size + 1))
    return SparseRows(
        splits, users[order], catalog.seen_ratings[order], catalog.num_users, name="ratings"
    )


def user_sequences(catalog: Catalog) -> SparseRows:
    """Each user's distinct vocabulary items with their recency rank (0 = latest) as values."""
    return SparseRows(
        catalog.seen_row_splits,
        catalog.seen_items,
        catalog.seen_recency.astype(np.float32),
        catalog.item_vocab_size,
        name="sequences",
    )


def recent_items(
    sequences: SparseRows, users: tf.Tensor, length: int, before: tf.Tensor | None = None
) -> tf.Tensor:
    """Each user's `length` latest items in time order, as item index + 1 (0 pads the left).

    With `before` (an item per user), only the items the user had before it
    count: the history a next-item model sees when it is asked for that item.
    An item the user never had (or no `before`) leaves the whole history.
    Returns [B, length] int64, the latest item last.
    """
    items, recency = sequences.ragged(users)
    rows = items.value_rowids()
    flat_items, flat_recency = items.flat_values, tf.cast(recency.flat_values, tf.int64)
    batch = tf.shape(users, tf.int64)[0]
    if before is None:
        cut = tf.fill([batch], tf.constant(-1, tf.int64))
    else:
        target = tf.gather(tf.cast(before, tf.int64), rows)
        found = tf.where(tf.equal(flat_items, target), flat_recency, -1)
        cut = tf.maximum(tf.math.unsorted_segment_max(found, rows, batch), -1)
    gap = flat_recency - tf.gather(cut, rows) - 1  # 0 = the item just before the cut
    keep = (gap >= 0) & (gap < length)
    index = tf.stack([tf.boolean_mask(rows, keep), length - 1 - tf.boolean_mask(gap, keep)], 1)
    return tf.scatter_nd(index, tf.boolean_mask(flat_items, keep) + 1, tf.stack([batch, length]))
