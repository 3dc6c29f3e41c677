"""DeepFM (Guo et al., 2017): a factorisation machine and a deep network over shared fields.

score = sum_f w_f  +  sum_{f < g} <e_f, e_g>  +  MLP([e_1, ..., e_F])

The FM's pairwise term is computed in O(F k) as
0.5 * sum_k ((sum_f e_f)^2 - sum_f e_f^2).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from recsearch.model_registry import register
from recsearch.modules.models.pair_scorer import (
    DEFAULT_HIDDEN,
    PairScorer,
    PairSettings,
    apply,
    flatten,
    mlp,
    pair_family,
)


def fm_pairwise(fields: tf.Tensor) -> tf.Tensor:
    """sum over field pairs f < g of <e_f, e_g>, for fields [B, F, k] -> [B]."""
    total = tf.reduce_sum(fields, axis=1)
    return 0.5 * tf.reduce_sum(tf.square(total) - tf.reduce_sum(tf.square(fields), axis=1), axis=1)


class DeepFM(PairScorer):
    def __init__(self, *args, hidden_layers: Sequence[int] = DEFAULT_HIDDEN, **kwargs):
        super().__init__(*args, **kwargs)
        self.deep = mlp(tuple(hidden_layers) or DEFAULT_HIDDEN, "deep")
        self.deep_output = tf.keras.layers.Dense(1, name="deep_output")

    def interact(self, user: tf.Tensor, item: tf.Tensor, linear: tf.Tensor) -> tf.Tensor:
        fields = tf.concat([user, item], axis=1)
        deep = tf.squeeze(self.deep_output(apply(self.deep, flatten(fields))), axis=1)
        return linear + fm_pairwise(fields) + deep


FAMILY = register(pair_family("deepfm", PairSettings, DeepFM))
