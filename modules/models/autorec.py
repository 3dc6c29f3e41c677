"""I-AutoRec: an item-based autoencoder over the rating matrix (Sedhain et al., 2015).

Each item is the vector of its ratings by all users r_i [U]. The encoder
h(r_i) = sigmoid(W r_i + c) [H]; the decoder rebuilds the ratings,
r_hat(u, i) = V_u . h(r_i) + b_u. The loss is the squared error over the
observed ratings only, with an L2 penalty on W and V.

That is an inner product: the query of user u is [V_u, b_u] and the
candidate vector of item i is [h(r_i), 1], so serving and the Evaluator treat
AutoRec like every other model. An item without ratings (a cold item) is
encoded from an empty vector. Unknown users get the mean user row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import Family, register
from recsearch.modules.models import arguments
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.history import item_ratings
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import Embedding, Penalty
from recsearch.modules.training_data import Catalog


class ItemAutoRec(RecommenderModel):
    """Encoder [U] -> [H] (sigmoid), linear decoder [H] -> [U]; trained on observed cells."""

    def __init__(self, catalog: Catalog, hidden_dim: int = 500, l2: float = 0.0, seed: int = 42):
        """Creates the model.

        Raises:
          ValueError: On a non-positive hidden_dim, or a catalog without ratings.
        """
        super().__init__()
        arguments.positive(hidden_dim=hidden_dim)
        if not np.any(catalog.seen_ratings):
            raise ValueError("AutoRec needs ratings: the training data has none")
        self.num_users = int(catalog.num_users)
        self.item_ratings = item_ratings(catalog)
        regularizer = tf.keras.regularizers.l2(l2) if l2 else None
        init = tf.keras.initializers.GlorotUniform(seed=seed)
        self.encoder = tf.keras.layers.Dense(
            hidden_dim,
            activation="sigmoid",
            kernel_initializer=init,
            kernel_regularizer=regularizer,
            name="encoder",
        )
        self.decoder = tf.keras.layers.Dense(
            self.num_users, kernel_initializer=init, kernel_regularizer=regularizer, name="decoder"
        )
        self.hidden_dim = int(hidden_dim)

    def _rating_rows(self, items: tf.Tensor) -> tf.Tensor:
        """Each item's ratings by all users [B, U] (0 = not rated); zeros outside the vocabulary."""
        return self.item_ratings.dense(items)

    def _build_decoder(self) -> None:
        """Creates the decoder's weights once (building it again would replace them)."""
        if not self.decoder.built:
            self.decoder.build((None, self.hidden_dim))

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        code = self.encoder(self._rating_rows(features[keys.ITEM_ID]))
        return tf.concat([code, tf.ones_like(code[:, :1])], axis=1)

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        self._build_decoder()
        users = tf.cast(features[keys.USER_ID], tf.int64)
        rows = tf.gather(tf.transpose(self.decoder.kernel), users)
        return tf.concat([rows, tf.gather(self.decoder.bias, users)[:, None]], axis=1)

    def fallback_query(self) -> tf.Tensor:
        """The mean user row: an unknown user is rated like the average user."""
        self._build_decoder()
        rows = tf.transpose(self.decoder.kernel)
        return tf.concat([tf.reduce_mean(rows, axis=0), tf.reduce_mean(self.decoder.bias)[None]], 0)

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """Squared error of the rebuilt ratings over the observed cells of the batch's items."""
        ratings = self._rating_rows(features[keys.ITEM_ID])
        rebuilt = self.decoder(self.encoder(ratings))
        observed = tf.cast(ratings > 0, tf.float32)
        return tf.reduce_sum(observed * tf.square(rebuilt - ratings)) / tf.maximum(
            tf.reduce_sum(observed), 1.0
        )


@dataclasses.dataclass(frozen=True)
class AutoRecSettings(Embedding, Penalty):
    """I-AutoRec's settings (embedding_dim is its hidden width)."""


def build(cfg: AutoRecSettings, parts: Parts) -> ItemAutoRec:
    return ItemAutoRec(parts.catalog, hidden_dim=cfg.embedding_dim, l2=cfg.l2, seed=cfg.seed)


FAMILY = register(Family("autorec", AutoRecSettings, build, ("rating",), inner_product=True))
