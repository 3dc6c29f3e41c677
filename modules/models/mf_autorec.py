"""MF + AutoRec: the mean of biased matrix factorisation and I-AutoRec, trained together.

The two err differently (one factorises users and items, the other rebuilds an
item's ratings from its raters), so their mean is more accurate than either on
MovieLens 100K (docs/benchmarks.md). Each part keeps its own loss and
penalty; the sum of the two losses trains both in one pass.

Served as one inner product: the query is [q_mf / 2, q_autorec / 2] and the
candidate [c_mf, c_autorec], plus half MF's global mean, so
score = (mf(u, i) + autorec(u, i)) / 2 on every serving path.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from recsearch.modules.models.autorec import ItemAutoRec
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.mf import BiasedMF


class MFAutoRec(RecommenderModel):
    """The mean of a BiasedMF and an ItemAutoRec over the same catalog."""

    def __init__(self, mf: BiasedMF, autorec: ItemAutoRec):
        super().__init__()
        self.mf = mf
        self.autorec = autorec

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        parts = (self.mf.query_vectors(features), self.autorec.query_vectors(features))
        return 0.5 * tf.concat(parts, axis=1)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        parts = (self.mf.candidate_vectors(features), self.autorec.candidate_vectors(features))
        return tf.concat(parts, axis=1)

    def score_offset(self) -> tf.Tensor:
        return 0.5 * (self.mf.score_offset() + self.autorec.score_offset())

    def fallback_query(self) -> tf.Tensor:
        return 0.5 * tf.concat([self.mf.fallback_query(), self.autorec.fallback_query()], 0)

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self.mf.compute_loss(features, training) + self.autorec.compute_loss(
            features, training
        )
