"""Matrix factorisation with global, user and item biases, for explicit ratings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import Family, register
from recsearch.modules.models import arguments, losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.bias import start_biases
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import BiasStart, Embedding, Penalty


class BiasedMF(RecommenderModel):
    """rating(u, i) = mu + b_u + b_i + <p_u, q_i>, trained with squared error.

    Scores are also exposed as one inner product of augmented vectors,
    [p_u, b_u, 1] . [q_i, 1, b_i], plus mu, so serving and nearest-neighbour
    search treat every model as "query vectors times candidate vectors".
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        dim: int = 64,
        l2: float = 0.0,
        global_mean: float = 0.0,
        seed: int = 42,
        biases=None,
    ):
        """Creates the model.

        `biases`: a `bias.Biases` the bias tables (and mu) start from, rather than zeros.

        Raises:
          ValueError: On a non-positive size.
        """
        super().__init__()
        arguments.positive(num_users=num_users, num_items=num_items, dim=dim)
        regularizer = tf.keras.regularizers.l2(l2) if l2 else None
        init = tf.keras.initializers.RandomNormal(stddev=0.05, seed=seed)
        self.user_embedding = tf.keras.layers.Embedding(
            num_users, dim, embeddings_initializer=init, embeddings_regularizer=regularizer
        )
        self.item_embedding = tf.keras.layers.Embedding(
            num_items, dim, embeddings_initializer=init, embeddings_regularizer=regularizer
        )
        user_start = item_start = "zeros"
        if biases is not None:
            user_start = _rows(biases.users, num_users)
            item_start = _rows(biases.items, num_items)
            global_mean = biases.mean
        self.user_bias = tf.keras.layers.Embedding(
            num_users, 1, embeddings_initializer=user_start, embeddings_regularizer=regularizer
        )
        self.item_bias = tf.keras.layers.Embedding(
            num_items, 1, embeddings_initializer=item_start, embeddings_regularizer=regularizer
        )
        self.global_bias = tf.Variable(float(global_mean), dtype=tf.float32, name="global_bias")

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        users = features[keys.USER_ID]
        ones = tf.ones_like(tf.cast(users, tf.float32))[:, None]
        return tf.concat([self.user_embedding(users), self.user_bias(users), ones], axis=1)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        items = features[keys.ITEM_ID]
        ones = tf.ones_like(tf.cast(items, tf.float32))[:, None]
        return tf.concat([self.item_embedding(items), ones, self.item_bias(items)], axis=1)

    def score_offset(self) -> tf.Tensor:
        return self.global_bias

    def fallback_query(self) -> tf.Tensor:
        """Unknown users get mu + b_i: a zero factor and bias, then the 1 for b_i."""
        dim = self.user_embedding.output_dim
        return tf.concat([tf.zeros([dim + 1]), tf.ones([1])], axis=0)

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return losses.squared_error(
            features[keys.RATING], self(features), features.get(keys.WEIGHT)
        )


def _rows(values, count: int) -> tf.keras.initializers.Initializer:
    """An initializer of a [count, 1] table holding `values`, zeros past them."""
    import numpy as np

    column = np.zeros((count, 1), np.float32)
    column[: min(count, len(values)), 0] = values[:count]
    return tf.keras.initializers.Constant(column)


@dataclasses.dataclass(frozen=True)
class MFSettings(Embedding, Penalty, BiasStart):
    """Matrix factorisation's settings: width, L2 penalty, and the biases it starts from."""


def build(cfg: MFSettings, parts: Parts) -> BiasedMF:
    return BiasedMF(
        num_users=parts.sizes[keys.USER_ID],
        num_items=parts.sizes[keys.ITEM_ID],
        dim=cfg.embedding_dim,
        l2=float(cfg.l2),
        global_mean=parts.catalog.rating_mean,
        seed=cfg.seed,
        biases=start_biases(cfg.bias_l2, parts),
    )


FAMILY = register(Family("mf", MFSettings, build, ("rating",), inner_product=True))
