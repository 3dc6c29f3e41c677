"""Wide & Deep (Cheng et al., 2016): a linear model and a deep network, summed.

The wide part is the first-order weights of every user and item field (a
logistic regression over the features); the deep part is an MLP over the
concatenated field vectors.
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


class WideAndDeep(PairScorer):
    def __init__(self, *args, hidden_layers: Sequence[int] = DEFAULT_HIDDEN, **kwargs):
        super().__init__(*args, **kwargs)
        self.deep = mlp(tuple(hidden_layers) or DEFAULT_HIDDEN, "deep")
        self.deep_output = tf.keras.layers.Dense(1, name="deep_output")

    def interact(self, user: tf.Tensor, item: tf.Tensor, linear: tf.Tensor) -> tf.Tensor:
        flat = flatten(tf.concat([user, item], axis=1))
        return linear + tf.squeeze(self.deep_output(apply(self.deep, flat)), axis=1)


FAMILY = register(pair_family("wide_deep", PairSettings, WideAndDeep))
