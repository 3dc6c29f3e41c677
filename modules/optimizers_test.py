"""LazyAdam: Adam on the rows a batch looked up, nothing else."""

import dataclasses

import numpy as np
import tensorflow as tf

from recsearch.config import Model
from recsearch.modules import model_factory
from recsearch.modules.optimizers import LazyAdam


def _step(optimizer, table, dense, rows):
    with tf.GradientTape() as tape:
        looked_up = tf.gather(table, rows)  # an IndexedSlices gradient for the table
        loss = tf.reduce_sum(tf.square(looked_up - 1.0)) + tf.reduce_sum(dense * rows.shape[0])
    grads = tape.gradient(loss, [table, dense])
    assert isinstance(grads[0], tf.IndexedSlices)
    optimizer.apply_gradients(zip(grads, [table, dense]))


def _variables(seed):
    rng = np.random.default_rng(seed)
    return tf.Variable(rng.normal(size=(6, 3)).astype(np.float32)), tf.Variable(
        rng.normal(size=(2,)).astype(np.float32)
    )


def test_lazy_adam_moves_only_the_looked_up_rows_and_matches_adam_on_them():
    lazy_table, lazy_dense = _variables(0)
    adam_table, adam_dense = _variables(0)
    start = lazy_table.numpy().copy()
    lazy, adam = LazyAdam(learning_rate=0.1), tf.keras.optimizers.Adam(learning_rate=0.1)

    # Step 1: rows 1 and 3 (3 twice: the duplicate is summed). No row has momentum yet,
    # so Adam moves only these rows too, by the same amounts.
    first = tf.constant([1, 3, 3])
    _step(lazy, lazy_table, lazy_dense, first)
    _step(adam, adam_table, adam_dense, first)
    np.testing.assert_allclose(lazy_table.numpy(), adam_table.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(lazy_table.numpy()[[0, 2, 4, 5]], start[[0, 2, 4, 5]])
    assert not np.allclose(lazy_table.numpy()[[1, 3]], start[[1, 3]])
    after_first = lazy_table.numpy().copy()

    # Step 2: row 2 only. Adam moves rows 1 and 3 again by their momentum; LazyAdam does
    # not touch them. Row 2 had no history in either, so both give it the same update.
    second = tf.constant([2])
    _step(lazy, lazy_table, lazy_dense, second)
    _step(adam, adam_table, adam_dense, second)
    np.testing.assert_array_equal(lazy_table.numpy()[[0, 1, 3, 4, 5]], after_first[[0, 1, 3, 4, 5]])
    assert not np.allclose(adam_table.numpy()[[1, 3]], after_first[[1, 3]])
    np.testing.assert_allclose(lazy_table.numpy()[2], adam_table.numpy()[2], rtol=1e-6)
    # Dense variables follow Keras' Adam exactly.
    np.testing.assert_allclose(lazy_dense.numpy(), adam_dense.numpy(), rtol=1e-6)


def test_the_config_name_builds_it():
    optimizer = model_factory.make_optimizer(Model(optimizer="lazy_adam", learning_rate=0.01))
    assert isinstance(optimizer, LazyAdam)
    assert float(optimizer.learning_rate) == np.float32(0.01)


def test_auto_is_lazy_adam_for_large_tables_and_adam_below():
    auto = Model(optimizer="auto", learning_rate=0.01)
    rows = model_factory.LAZY_ADAM_ROWS
    assert isinstance(model_factory.make_optimizer(auto, rows), LazyAdam)
    small = model_factory.make_optimizer(auto, rows - 1)
    assert type(small) is tf.keras.optimizers.Adam
    assert type(model_factory.make_optimizer(auto)) is tf.keras.optimizers.Adam  # unknown size
    # A named optimizer is used whatever the size.
    assert type(
        model_factory.make_optimizer(dataclasses.replace(auto, optimizer="adam"), 10**6)
    ) is (tf.keras.optimizers.Adam)
