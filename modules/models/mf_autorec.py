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

import dataclasses
from collections.abc import Mapping

import tensorflow as tf

from recsearch.model_registry import Family, positive, register
from recsearch.modules.models import mf
from recsearch.modules.models.autorec import ItemAutoRec
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.mf import BiasedMF
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import BiasStart, Embedding, Penalty


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


@dataclasses.dataclass(frozen=True)
class MFAutoRecSettings(Embedding, Penalty, BiasStart):
    """MF + AutoRec's settings: MF's (embedding_dim, l2, bias_l2), and its AutoRec part's.

    Attributes:
      autorec_hidden_dim: Hidden width of its AutoRec part.
      autorec_l2: L2 penalty of its AutoRec part.
    """

    autorec_hidden_dim: int = 500
    autorec_l2: float = 0.001

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "autorec_hidden_dim")]


def build(cfg: MFAutoRecSettings, parts: Parts) -> MFAutoRec:
    autorec = ItemAutoRec(
        parts.catalog, hidden_dim=cfg.autorec_hidden_dim, l2=float(cfg.autorec_l2), seed=cfg.seed
    )
    factors = mf.MFSettings(
        name="mf", seed=cfg.seed, embedding_dim=cfg.embedding_dim, l2=cfg.l2, bias_l2=cfg.bias_l2
    )
    return MFAutoRec(mf.build(factors, parts), autorec)


FAMILY = register(Family("mf_autorec", MFAutoRecSettings, build, ("rating",), inner_product=True))
