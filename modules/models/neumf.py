"""NeuMF (He et al., 2017): a GMF branch and an MLP branch over user and item embeddings.

GMF is the element-wise product of the user's and the item's vectors (matrix
factorisation with a learned output weight); the MLP reads their
concatenation. Each branch has its own embeddings, as in the paper: the
fields are 2k wide, the first k for GMF, the rest for the MLP. A final layer
weighs the GMF product and the MLP's output into the score.
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


class NeuMF(PairScorer):
    """Neural matrix factorisation: fields are 2k wide (GMF half, MLP half)."""

    # Its fields are this many times `embedding_dim` wide (`pair_scorer.pair_family`).
    FIELD_WIDTH = 2

    def __init__(self, *args, hidden_layers: Sequence[int] = DEFAULT_HIDDEN, **kwargs):
        super().__init__(*args, **kwargs)
        if self.user_fields.dim % 2:
            raise ValueError(f"NeuMF fields must be 2k wide, got {self.user_fields.dim}")
        self.half = self.user_fields.dim // 2
        self.tower = mlp(tuple(hidden_layers) or DEFAULT_HIDDEN, "mlp")
        self.output_layer = tf.keras.layers.Dense(1, name="neumf_output")

    def interact(self, user: tf.Tensor, item: tf.Tensor, linear: tf.Tensor) -> tf.Tensor:
        gmf = tf.reduce_sum(user[:, :, : self.half], axis=1) * tf.reduce_sum(
            item[:, :, : self.half], axis=1
        )
        both = tf.concat([user[:, :, self.half :], item[:, :, self.half :]], axis=1)
        deep = apply(self.tower, flatten(both))
        return tf.squeeze(self.output_layer(tf.concat([gmf, deep], axis=1)), axis=1)


FAMILY = register(pair_family("neumf", PairSettings, NeuMF))
