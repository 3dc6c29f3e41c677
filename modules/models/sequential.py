"""Next-item models over each user's time-ordered history: the shared part of GRU4Rec and SASRec.

A training interaction (u, i) asks: given the items u had before i, in time
order, which item comes next? The history is held in the model (the
catalog's items with their recency ranks, `history.user_sequences`), so the
input pipeline stays the plain interaction batches and `recommend` still
needs only a user id: at serving time the sequence is the user's latest
`length` items.

The encoder's output is the query; the candidate vector of an item is its
row in the input embedding (tied weights), so scores are inner products and
ANN search works. Training: softmax (or another ranking loss) of the next
item against the other next items of the batch, logQ-corrected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import positive
from recsearch.modules.models import arguments, losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.history import recent_items, user_sequences
from recsearch.modules.models.settings import Embedding, LogQ, RankingLoss, Temperature
from recsearch.modules.training_data import Catalog


class SequenceModel(RecommenderModel):
    """Base of the next-item models; subclasses implement `encode`."""

    def __init__(
        self,
        catalog: Catalog,
        dim: int = 64,
        length: int = 50,
        temperature: float = 0.1,
        loss: str = "softmax",
        margin: float = 1.0,
        logq_correction: bool = True,
        seed: int = 42,
    ):
        """Creates the item table and the history.

        Raises:
          ValueError: On a non-positive dim, length or temperature, or an unknown loss.
        """
        super().__init__()
        arguments.positive(dim=dim, length=length, temperature=temperature)
        arguments.one_of(losses.RANKING_LOSSES, loss=loss)
        self.dim, self.length = int(dim), int(length)
        self.temperature, self.loss_name, self.margin = float(temperature), loss, float(margin)
        self.num_vocab_items = catalog.item_vocab_size
        self.sequences = user_sequences(catalog)
        # Row 0 pads; item i is row i + 1.
        self.item_embedding = tf.keras.layers.Embedding(
            self.num_vocab_items + 1,
            self.dim,
            embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.05, seed=seed),
            name="item_embedding",
        )
        self.item_log_q = None
        if logq_correction:
            probability = catalog.item_probability()
            self.item_log_q = tf.constant(np.log(probability.astype(np.float32)))

    def encode(self, sequence: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The query [B, D] of sequences [B, length] (item + 1, 0 pads, latest last)."""
        raise NotImplementedError("subclasses implement encode")

    def _rows(self, items: tf.Tensor) -> tf.Tensor:
        items = tf.cast(items, tf.int64)
        return tf.where(items < self.num_vocab_items, items + 1, 0)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The item's embedding row, L2-normalised; zeros outside the vocabulary."""
        rows = self._rows(features[keys.ITEM_ID])
        vectors = tf.math.l2_normalize(self.item_embedding(rows), axis=1)
        return tf.where((rows > 0)[:, None], vectors, tf.zeros_like(vectors))

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        sequence = recent_items(self.sequences, features[keys.USER_ID], self.length)
        return tf.math.l2_normalize(self.encode(sequence), axis=1)

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        items = tf.cast(features[keys.ITEM_ID], tf.int64)
        sequence = recent_items(self.sequences, features[keys.USER_ID], self.length, items)
        queries = tf.math.l2_normalize(self.encode(sequence, training=training), axis=1)
        log_q = None if self.item_log_q is None else tf.gather(self.item_log_q, items)
        logits, negatives = losses.in_batch_logits(
            queries,
            self.candidate_vectors(features),
            items,
            log_q=log_q,
            temperature=self.temperature,
        )
        return losses.ranking_loss(
            self.loss_name, logits, negatives, self.margin, weights=features.get(keys.WEIGHT)
        )


@dataclasses.dataclass(frozen=True)
class SequenceSettings(Embedding, Temperature, RankingLoss, LogQ):
    """The settings of the models over each user's latest items in time order.

    Attributes:
      sequence_length: How many of a user's latest items they read.
      sequence_dropout: Dropout while training.
    """

    sequence_length: int = 50
    sequence_dropout: float = 0.2

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "sequence_length")]

    def arguments(self) -> dict:
        """The constructor arguments every sequence model takes from these settings."""
        return {
            "dim": self.embedding_dim,
            "length": self.sequence_length,
            "temperature": float(self.temperature),
            "loss": self.loss,
            "margin": float(self.margin),
            "logq_correction": bool(self.logq_correction),
            "dropout": float(self.sequence_dropout),
            "seed": self.seed,
        }
