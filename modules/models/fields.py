"""FieldEmbeddings: one vector per feature field of an entity, as factorisation machines see them.

An entity (a user or an item) is a set of fields: its id, its categorical and
hashed features, its numeric features. Each field f gets a vector e_f [k] and
a first-order weight w_f: for a categorical field, a row of its table; for a
numeric field x, x * v_f and x * w_f. The rows are k + 1 wide (the last
column is w_f) so one table per field holds both, and a warm start remaps
them by vocabulary like any other id table.

The output is flat, [B, F * k + 1]: the F vectors then the sum of the
first-order weights, so it can be stored as a candidate matrix and split
again by `split`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from recsearch.modules.models import arguments


class FieldEmbeddings(tf.keras.layers.Layer):
    """The field vectors and first-order weights of one entity's features."""

    def __init__(
        self,
        cardinalities: Mapping[str, int],
        numeric: Sequence[str] = (),
        dim: int = 16,
        l2: float = 0.0,
        seed: int = 42,
        first_order=None,
        **kwargs,
    ):
        """Creates the tables.

        Args:
          cardinalities: Index-space size of each id, categorical or hashed field.
          numeric: Names of numeric fields.
          dim: Width k of each field vector.
          l2: L2 penalty on the tables.
          seed: Initialiser seed.
          first_order: Field name -> the first-order weights its rows start from
            (a bias per row; rows past them start at 0); others start random.

        Raises:
          ValueError: On no fields, a non-positive size or width.
        """
        super().__init__(**kwargs)
        if not cardinalities and not numeric:
            raise ValueError("an entity needs at least one field")
        arguments.positive(dim=dim)
        arguments.positive(**{f"cardinality of {n!r}": int(s) for n, s in cardinalities.items()})
        self.dim = int(dim)
        self.categorical = sorted(cardinalities)
        self.numeric = list(numeric)
        regularizer = tf.keras.regularizers.l2(l2) if l2 else None
        first_order = first_order or {}
        self.embeddings = {}
        for i, name in enumerate(self.categorical):
            start = tf.keras.initializers.RandomNormal(stddev=0.05, seed=seed + i)
            if name in first_order:
                start = _WithFirstOrder(start, first_order[name])
            self.embeddings[name] = tf.keras.layers.Embedding(
                int(cardinalities[name]),
                self.dim + 1,
                embeddings_initializer=start,
                embeddings_regularizer=regularizer,
                name=f"field_{name}",
            )
        self.numeric_weights = None
        if self.numeric:
            self.numeric_weights = self.add_weight(
                name="numeric_fields",
                shape=(len(self.numeric), self.dim + 1),
                initializer=tf.keras.initializers.RandomNormal(stddev=0.05, seed=seed + 999),
                regularizer=regularizer,
            )

    @property
    def num_fields(self) -> int:
        return len(self.categorical) + len(self.numeric)

    @property
    def flat_dim(self) -> int:
        return self.num_fields * self.dim + 1

    @tf.autograph.experimental.do_not_convert
    def call(self, features: Mapping[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        rows = [self.embeddings[name](features[name]) for name in self.categorical]
        if self.numeric:
            values = tf.stack([tf.cast(features[n], tf.float32) for n in self.numeric], axis=1)
            rows.extend(tf.unstack(values[:, :, None] * self.numeric_weights[None], axis=1))
        fields = tf.stack(rows, axis=1)  # [B, F, k + 1]
        vectors = tf.reshape(fields[:, :, : self.dim], [-1, self.num_fields * self.dim])
        linear = tf.reduce_sum(fields[:, :, self.dim], axis=1, keepdims=True)
        return tf.concat([vectors, linear], axis=1)

    def split(self, flat: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(field vectors [B, F, k], first-order sum [B]) of a flat output."""
        vectors = tf.reshape(flat[:, :-1], [-1, self.num_fields, self.dim])
        return vectors, flat[:, -1]


class _WithFirstOrder(tf.keras.initializers.Initializer):
    """`base`'s rows with their last column (the first-order weight) set to `weights`."""

    def __init__(self, base: tf.keras.initializers.Initializer, weights):
        import numpy as np

        self.base = base
        self.weights = np.asarray(weights, np.float32)

    def __call__(self, shape, dtype=None, **kwargs):
        import numpy as np

        rows = self.base(shape, dtype=dtype)
        column = np.zeros(shape[0], np.float32)
        column[: min(shape[0], len(self.weights))] = self.weights[: shape[0]]
        return tf.concat([rows[:, :-1], tf.constant(column, rows.dtype)[:, None]], axis=1)
