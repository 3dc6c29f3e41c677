"""Item2vec / prod2vec: item embeddings from co-occurrence in users' histories.

Skip-gram with negatives, as in word2vec: each training interaction (u, i)
pairs item i with a context item drawn at random from u's other items; the
pair must out-score the other contexts of the batch (in-batch negatives,
softmax, popularity-corrected like the two-tower loss). Item2vec (Barkan &
Koenigstein, 2016) treats a history as a set, so the context is any other
item of the user, not only a neighbour in time.

Serving: an item's vector is its embedding, so `similar_items` is the cosine
neighbourhood of item2vec; a user's query is the mean embedding of their
history (recency-weighted with `recency_half_life`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import TOP_K_TASKS, Family, register
from recsearch.modules.models import arguments, losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.history import user_history
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import Embedding, Recency, Temperature
from recsearch.modules.training_data import Catalog


class Item2Vec(RecommenderModel):
    """Target and context item embeddings trained on co-occurring pairs."""

    def __init__(
        self,
        catalog: Catalog,
        dim: int = 64,
        temperature: float = 0.1,
        recency_half_life: float = 0.0,
        seed: int = 42,
    ):
        """Creates the model.

        Raises:
          ValueError: On a non-positive dim or temperature.
        """
        super().__init__()
        arguments.positive(dim=dim, temperature=temperature)
        self.user_history = user_history(catalog, recency_half_life)
        self.num_vocab_items = catalog.item_vocab_size
        init = tf.keras.initializers.RandomNormal(stddev=0.05, seed=seed)
        self.target = tf.keras.layers.Embedding(
            self.num_vocab_items + 1, dim, embeddings_initializer=init, name="target"
        )
        self.context = tf.keras.layers.Embedding(
            self.num_vocab_items + 1, dim, embeddings_initializer=init, name="context"
        )
        self.temperature = float(temperature)
        self.seed = int(seed)
        probability = catalog.item_probability()[: self.num_vocab_items]
        self.log_q = tf.constant(np.log(np.append(probability, probability.min())))

    def _items(self, items: tf.Tensor) -> tf.Tensor:
        """Item indices with everything outside the vocabulary on the last (zero) row."""
        items = tf.cast(items, tf.int64)
        return tf.where(items < self.num_vocab_items, items, self.num_vocab_items)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        items = self._items(features[keys.ITEM_ID])
        vectors = tf.math.l2_normalize(self.target(items), axis=1)
        return tf.where((items < self.num_vocab_items)[:, None], vectors, tf.zeros_like(vectors))

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Weighted mean of the user's item vectors [B, D]; zeros without history."""
        items, weights = self.user_history.ragged(features[keys.USER_ID])
        vectors = self.candidate_vectors({keys.ITEM_ID: items.flat_values})
        weighted = items.with_flat_values(vectors * weights.flat_values[:, None])
        total = tf.reduce_sum(weights, axis=1)[:, None]
        return tf.reduce_sum(weighted, axis=1) / tf.maximum(total, 1e-9)

    def _contexts(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        """One of each user's other items, uniformly; the item itself when it is all they have.

        Draws a position among the first n - 1 of the user's n distinct items
        and, when that is the item itself, takes the last one instead.
        """
        history, _ = self.user_history.ragged(users)
        lengths = history.row_lengths()
        others = tf.maximum(lengths - 1, 0)
        draw = tf.random.uniform(tf.shape(lengths), seed=self.seed)
        position = tf.minimum(tf.cast(draw * tf.cast(others, tf.float32), tf.int64), others)
        flat, starts = history.flat_values, history.row_starts()
        top = tf.maximum(tf.size(flat, tf.int64) - 1, 0)  # users without history index safely
        picked = tf.gather(flat, tf.minimum(starts + position, top))
        last = tf.gather(flat, tf.minimum(starts + others, top))
        items = tf.cast(items, tf.int64)
        picked = tf.where(tf.equal(picked, items), last, picked)
        return tf.where(lengths > 1, picked, items)

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        items = self._items(features[keys.ITEM_ID])
        contexts = self._items(self._contexts(features[keys.USER_ID], items))
        logits, negatives = losses.in_batch_logits(
            tf.math.l2_normalize(self.target(items), axis=1),
            tf.math.l2_normalize(self.context(contexts), axis=1),
            contexts,
            log_q=tf.gather(self.log_q, contexts),
            temperature=self.temperature,
        )
        return losses.ranking_loss("softmax", logits, negatives)


@dataclasses.dataclass(frozen=True)
class Item2VecSettings(Embedding, Temperature, Recency):
    """item2vec's settings: the shared embedding width, temperature and recency boost."""


def build(cfg: Item2VecSettings, parts: Parts) -> Item2Vec:
    return Item2Vec(
        parts.catalog,
        dim=cfg.embedding_dim,
        temperature=cfg.temperature,
        recency_half_life=cfg.recency_half_life,
        seed=cfg.seed,
    )


FAMILY = register(Family("item2vec", Item2VecSettings, build, TOP_K_TASKS, inner_product=True))
