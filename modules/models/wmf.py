"""Weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky, 2008).

Every (user, item) cell counts: an interaction is a 1 to fit, every other
cell a 0 fitted with a small weight w0:

  L = sum_{(u,i) observed} (1 - p_u . q_i)^2  +  w0 * sum_u sum_i (p_u . q_i)^2

The second sum runs over the whole catalog, but it equals w0 * p_u^T G p_u
with the Gramian G = Q^T Q [D, D] (the iALS trick, Krichene et al. 2019), so
a step costs O(N D^2) for the Gramian instead of O(B N D). Training batches
are interactions, as everywhere here; a user's Gramian term is spread over
their n_u interactions (weight 1/n_u each), so an epoch counts it once.
Repeated interactions of a pair fit it more often: that is the confidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import TOP_K_TASKS, Family, register
from recsearch.modules.models import arguments
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import Embedding, Penalty
from recsearch.modules.training_data import Catalog


class WeightedMF(RecommenderModel):
    """User and item factors; score p_u . q_i."""

    def __init__(
        self,
        catalog: Catalog,
        dim: int = 64,
        unobserved_weight: float = 0.1,
        l2: float = 0.0,
        seed: int = 42,
    ):
        """Creates the model.

        Raises:
          ValueError: On a non-positive dim or a negative weight.
        """
        super().__init__()
        arguments.positive(dim=dim)
        arguments.non_negative(unobserved_weight=unobserved_weight)
        self.unobserved_weight = float(unobserved_weight)
        self.num_vocab_items = catalog.item_vocab_size
        regularizer = tf.keras.regularizers.l2(l2) if l2 else None
        init = tf.keras.initializers.RandomNormal(stddev=0.1 / np.sqrt(dim), seed=seed)
        self.user_embedding = tf.keras.layers.Embedding(
            catalog.num_users, dim, embeddings_initializer=init, embeddings_regularizer=regularizer
        )
        self.item_embedding = tf.keras.layers.Embedding(
            catalog.num_items, dim, embeddings_initializer=init, embeddings_regularizer=regularizer
        )
        counts = np.maximum(np.diff(catalog.seen_row_splits), 1).astype(np.float32)
        # Users outside the vocabulary (OOV rows) count as one interaction.
        counts = np.concatenate([counts, np.ones(catalog.num_users - len(counts), np.float32)])
        self.user_share = tf.constant(1.0 / counts)

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.user_embedding(features[keys.USER_ID])

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.item_embedding(features[keys.ITEM_ID])

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        users = tf.cast(features[keys.USER_ID], tf.int64)
        queries = self.query_vectors(features)
        scores = tf.reduce_sum(queries * self.candidate_vectors(features), axis=1)
        observed = tf.square(1.0 - scores)
        items = self.item_embedding.embeddings[: self.num_vocab_items]
        gramian = tf.matmul(items, items, transpose_a=True)
        all_cells = tf.reduce_sum(tf.matmul(queries, gramian) * queries, axis=1)
        share = tf.gather(self.user_share, users)
        return tf.reduce_mean(observed + self.unobserved_weight * share * all_cells)


@dataclasses.dataclass(frozen=True)
class WMFSettings(Embedding, Penalty):
    """Weighted MF's settings.

    Attributes:
      wmf_unobserved_weight: Weight w0 of the squared score of every cell (the
        zeros) against the interactions (the ones).
    """

    wmf_unobserved_weight: float = 0.1


def build(cfg: WMFSettings, parts: Parts) -> WeightedMF:
    return WeightedMF(
        parts.catalog,
        dim=cfg.embedding_dim,
        unobserved_weight=cfg.wmf_unobserved_weight,
        l2=cfg.l2,
        seed=cfg.seed,
    )


FAMILY = register(Family("wmf", WMFSettings, build, TOP_K_TASKS, inner_product=True))
