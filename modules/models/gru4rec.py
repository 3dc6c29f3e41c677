"""GRU4Rec (Hidasi et al., 2016): a GRU reads the history; its last state is the query."""

from __future__ import annotations

import tensorflow as tf

from recsearch.model_registry import Family, register
from recsearch.modules.models import arguments
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.sequential import SequenceModel, SequenceSettings


class GRU4Rec(SequenceModel):
    """Item embeddings -> GRU (padding masked) -> projection to the item space."""

    def __init__(self, catalog, dropout: float = 0.2, **kwargs):
        super().__init__(catalog, **kwargs)
        arguments.fraction(dropout=dropout)
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.gru = tf.keras.layers.GRU(self.dim, name="gru")
        self.projection = tf.keras.layers.Dense(self.dim, name="projection")

    @tf.autograph.experimental.do_not_convert
    def encode(self, sequence: tf.Tensor, training: bool = False) -> tf.Tensor:
        inputs = self.dropout(self.item_embedding(sequence), training=training)
        state = self.gru(inputs, mask=sequence > 0, training=training)
        return self.projection(state)


def build(cfg: SequenceSettings, parts: Parts) -> GRU4Rec:
    return GRU4Rec(parts.catalog, **cfg.arguments())


FAMILY = register(Family("gru4rec", SequenceSettings, build, ("sequential",), inner_product=True))
