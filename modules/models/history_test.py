"""SparseRows: CSR rows as ragged and dense tensors, empty beyond the stored rows."""

import numpy as np
import tensorflow as tf

from recsearch.modules.models import history
from recsearch.modules.models.history import SparseRows, item_ratings, user_history
from recsearch.testing import tiny_catalog


def test_rows_come_back_ragged_and_dense_and_unknown_rows_are_empty():
    matrix = SparseRows(
        row_splits=np.array([0, 2, 2, 3]),
        columns=np.array([1, 3, 0]),
        values=np.array([0.5, 2.0, 4.0]),
        num_columns=4,
    )
    rows = tf.constant([2, 0, 9, 1], tf.int64)  # 9 is beyond the three stored rows
    columns, values = matrix.ragged(rows)
    assert columns.to_list() == [[0], [1, 3], [], []]
    assert values.to_list() == [[4.0], [0.5, 2.0], [], []]
    np.testing.assert_array_equal(
        matrix.dense(rows).numpy(), [[4, 0, 0, 0], [0, 0.5, 0, 2], [0, 0, 0, 0], [0, 0, 0, 0]]
    )


def test_user_history_and_item_ratings_are_transposes():
    catalog = tiny_catalog([[0, 2], [1, 2]], num_items=3, ratings=[[5.0, 3.0], [1.0, 4.0]])
    users = user_history(catalog).dense(tf.constant([0, 1], tf.int64)).numpy()
    np.testing.assert_array_equal(users, [[1, 0, 1], [0, 1, 1]])
    items = item_ratings(catalog).dense(tf.constant([0, 1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(items, [[5, 0], [0, 1], [3, 4]])


def test_recent_items_are_the_history_before_the_asked_item_in_time_order():
    # User 0 had items 3, 1, 4, 2 (oldest to latest); user 1 had item 0 only.
    catalog = tiny_catalog([[3, 1, 4, 2], [0]], recency=[[3, 2, 1, 0], [0]])
    sequences = history.user_sequences(catalog)
    users = tf.constant([0, 0, 1, 0, 7])
    before = tf.constant([4, 3, 0, 9, 1])
    got = history.recent_items(sequences, users, 3, before).numpy()
    # +1 on every item; 0 pads. Before 4: 3, 1. Before 3: nothing. Item 9 was
    # never had: the last three. User 7 is unknown: empty.
    assert got.tolist() == [[0, 4, 2], [0, 0, 0], [0, 0, 0], [2, 5, 3], [0, 0, 0]]
    latest = history.recent_items(sequences, tf.constant([0]), 5).numpy()
    assert latest.tolist() == [[0, 4, 2, 5, 3]]
