"""Hybrid matrix factorisation for ratings: users and items as sums of their fields' vectors.

rating(u, i) = mu + w_u + w_i + <sum_f e_f(u), sum_g e_g(i)>, where the fields
of an item are its id, its categorical and hashed features (publisher,
author, genre) and its numeric ones (page count, year), and likewise for a
user (LightFM's form of a hybrid model, Kula 2015). An item with few ratings
borrows the vectors and biases of its publisher and author, and an item with
none is placed by them alone: on sparse ratings with metadata, the seed talk's
answer to a factor model that overfits its ids.

Served as one inner product like every model: query [p_u, w_u, 1],
candidate [q_i, 1, w_i], offset mu; an unknown user gets mu + w_i.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import Family, register
from recsearch.modules.models import losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.bias import start_biases
from recsearch.modules.models.fields import FieldEmbeddings
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import BiasStart, Embedding, Penalty, SideFeatures


class HybridMF(RecommenderModel):
    """Biased MF whose user and item vectors and biases are sums over their feature fields."""

    def __init__(
        self, user_fields: FieldEmbeddings, item_fields: FieldEmbeddings, global_mean: float = 0.0
    ):
        """Creates the model.

        Raises:
          ValueError: When the two sides' field vectors differ in width.
        """
        super().__init__()
        if user_fields.dim != item_fields.dim:
            raise ValueError(
                f"user and item field widths differ: {user_fields.dim} and {item_fields.dim}"
            )
        self.user_fields = user_fields
        self.item_fields = item_fields
        self.global_bias = tf.Variable(float(global_mean), dtype=tf.float32, name="global_bias")

    @staticmethod
    def _entity(fields: FieldEmbeddings, features: Mapping[str, tf.Tensor]):
        vectors, linear = fields.split(fields(features))
        return tf.reduce_sum(vectors, axis=1), linear[:, None]

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        vector, bias = self._entity(self.user_fields, features)
        return tf.concat([vector, bias, tf.ones_like(bias)], axis=1)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        vector, bias = self._entity(self.item_fields, features)
        return tf.concat([vector, tf.ones_like(bias), bias], axis=1)

    def score_offset(self) -> tf.Tensor:
        return self.global_bias

    def fallback_query(self) -> tf.Tensor:
        """Unknown users get mu + w_i: a zero vector and bias, then the 1 for w_i."""
        return tf.concat([tf.zeros([self.user_fields.dim + 1]), tf.ones([1])], axis=0)

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return losses.squared_error(
            features[keys.RATING], self(features), features.get(keys.WEIGHT)
        )


@dataclasses.dataclass(frozen=True)
class HybridMFSettings(Embedding, Penalty, SideFeatures, BiasStart):
    """Hybrid MF's settings: MF's, and whether the side fields are embedded."""


def build(cfg: HybridMFSettings, parts: Parts) -> HybridMF:
    """Hybrid MF over the id, categorical, hashed and numeric fields of users and items."""
    spec = parts.spec
    side = cfg.use_side_features
    # The id fields' first-order weights start from the bias baseline's biases.
    start = start_biases(cfg.bias_l2, parts)

    def fields(id_feature, categorical, numeric, offset, biases):
        names = (id_feature, *(categorical if side else ()))
        return FieldEmbeddings(
            {n: parts.sizes[n] for n in names},
            numeric=numeric if side else (),
            dim=cfg.embedding_dim,
            l2=float(cfg.l2),
            seed=cfg.seed + offset,
            first_order={id_feature: biases},
        )

    return HybridMF(
        fields(
            keys.USER_ID,
            spec.user_categorical + spec.user_hashed,
            spec.user_numeric,
            0,
            start.users,
        ),
        fields(
            keys.ITEM_ID,
            spec.item_categorical + spec.item_hashed,
            spec.item_numeric,
            500,
            start.items,
        ),
        global_mean=start.mean,
    )


FAMILY = register(Family("hybrid_mf", HybridMFSettings, build, ("rating",), inner_product=True))
