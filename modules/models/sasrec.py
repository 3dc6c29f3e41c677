"""SASRec (Kang & McAuley, 2018): causal self-attention over the history.

The output at the last position is the query.

Item embeddings (scaled by sqrt(d)) plus learned position embeddings go
through pre-norm blocks of causal multi-head self-attention and a
point-wise feed-forward network; padded positions attend to nothing and are
zeroed after each block.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from recsearch.model_registry import Family, positive, register
from recsearch.modules.models import arguments
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.sequential import SequenceModel, SequenceSettings


class SASRec(SequenceModel):
    def __init__(
        self,
        catalog,
        num_blocks: int = 2,
        num_heads: int = 2,
        dropout: float = 0.2,
        **kwargs,
    ):
        super().__init__(catalog, **kwargs)
        if num_blocks <= 0 or num_heads <= 0:
            raise ValueError(
                f"num_blocks and num_heads must be positive: {num_blocks}, {num_heads}"
            )
        if self.dim % num_heads:
            raise ValueError(
                f"embedding_dim {self.dim} must be a multiple of num_heads {num_heads}"
            )
        arguments.fraction(dropout=dropout)
        self.positions = tf.keras.layers.Embedding(self.length, self.dim, name="positions")
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.blocks = []
        for b in range(num_blocks):
            self.blocks.append(
                {
                    "attention_norm": tf.keras.layers.LayerNormalization(name=f"attn_norm_{b}"),
                    "attention": tf.keras.layers.MultiHeadAttention(
                        num_heads, self.dim // num_heads, dropout=dropout, name=f"attention_{b}"
                    ),
                    "ffn_norm": tf.keras.layers.LayerNormalization(name=f"ffn_norm_{b}"),
                    "ffn_in": tf.keras.layers.Dense(self.dim, activation="relu", name=f"ffn_{b}"),
                    "ffn_out": tf.keras.layers.Dense(self.dim, name=f"ffn_out_{b}"),
                }
            )
        self.final_norm = tf.keras.layers.LayerNormalization(name="final_norm")

    @tf.autograph.experimental.do_not_convert
    def encode(self, sequence: tf.Tensor, training: bool = False) -> tf.Tensor:
        present = sequence > 0  # [B, L]
        keep = tf.cast(present, tf.float32)[:, :, None]
        x = self.item_embedding(sequence) * tf.sqrt(float(self.dim))
        x = self.dropout(x + self.positions(tf.range(self.length))[None], training=training)
        x *= keep
        causal = tf.linalg.band_part(tf.ones([self.length, self.length], tf.bool), -1, 0)
        mask = causal[None] & present[:, None, :]
        for block in self.blocks:
            h = block["attention_norm"](x)
            x += block["attention"](h, h, attention_mask=mask, training=training)
            h = block["ffn_norm"](x)
            x += self.dropout(block["ffn_out"](block["ffn_in"](h)), training=training)
            x *= keep
        return self.final_norm(x[:, -1])


@dataclasses.dataclass(frozen=True)
class SASRecSettings(SequenceSettings):
    """SASRec's settings: a sequence model's, and its attention's.

    Attributes:
      attention_blocks: Self-attention blocks.
      attention_heads: Heads per block (embedding_dim must divide by it).
    """

    attention_blocks: int = 2
    attention_heads: int = 2

    def problems(self) -> list[tuple[str, str]]:
        found = [*super().problems(), *positive(self, "attention_blocks", "attention_heads")]
        if self.attention_heads > 0 and self.embedding_dim % self.attention_heads:
            found.append(
                (
                    "attention_heads",
                    f"must divide embedding_dim {self.embedding_dim}, got {self.attention_heads}",
                )
            )
        return found


def build(cfg: SASRecSettings, parts: Parts) -> SASRec:
    return SASRec(
        parts.catalog,
        num_blocks=cfg.attention_blocks,
        num_heads=cfg.attention_heads,
        **cfg.arguments(),
    )


FAMILY = register(Family("sasrec", SASRecSettings, build, ("sequential",), inner_product=True))
