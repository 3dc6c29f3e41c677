"""Optimizers for models whose embedding tables are large.

Keras' Adam applies a sparse gradient (an embedding lookup's `IndexedSlices`)
densely: every step decays both moments over the whole table and moves every
row by its momentum. At 384,615 users that made each training step cost the
table, not the batch (docs/scale.md). `LazyAdam` updates only the rows the
batch looked up, as TensorFlow Addons' LazyAdam does.
"""

from __future__ import annotations

import tensorflow as tf


class LazyAdam(tf.keras.optimizers.Adam):
    """Adam whose sparse updates touch only the rows a batch looked up.

    Dense gradients are Keras' Adam unchanged. For an `IndexedSlices` gradient
    (deduplicated by `apply_gradients` before it gets here), only those rows'
    moments decay and take the gradient, and only those rows move; a row no
    batch reads keeps its weights and moments. Its variables are Adam's, so its
    state can be carried between models like Adam's.
    """

    def update_step(self, gradient, variable):
        if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
            return super().update_step(gradient, variable)
        lr = tf.cast(self.learning_rate, variable.dtype)
        local_step = tf.cast(self.iterations + 1, variable.dtype)
        beta_1_power = tf.pow(tf.cast(self.beta_1, variable.dtype), local_step)
        beta_2_power = tf.pow(tf.cast(self.beta_2, variable.dtype), local_step)
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        epsilon = (
            self.epsilon * tf.sqrt(1 - beta_2_power) if self.adaptive_epsilon else self.epsilon
        )
        rows, grad = gradient.indices, gradient.values
        m_rows = tf.gather(m, rows) * self.beta_1 + grad * (1 - self.beta_1)
        v_rows = tf.gather(v, rows) * self.beta_2 + tf.square(grad) * (1 - self.beta_2)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        variable.scatter_sub(tf.IndexedSlices(m_rows * alpha / (tf.sqrt(v_rows) + epsilon), rows))
