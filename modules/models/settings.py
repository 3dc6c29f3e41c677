"""Settings several model families share, each with its default and check, written once.

A family's settings class (in its own module) is a frozen dataclass that
inherits the groups it reads, adds its own fields, and extends `problems`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from recsearch.model_registry import FamilySettings, positive

Loss = Literal["softmax", "approx_ndcg", "bpr", "triplet", "bce"]


@dataclasses.dataclass(frozen=True)
class Embedding(FamilySettings):
    """embedding_dim: Size of the user and item embeddings."""

    embedding_dim: int = 64

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "embedding_dim")]


@dataclasses.dataclass(frozen=True)
class Penalty(FamilySettings):
    """l2: L2 penalty on embeddings."""

    l2: float = 0.0


@dataclasses.dataclass(frozen=True)
class SideFeatures(FamilySettings):
    """use_side_features: Feed user/item side features to the model."""

    use_side_features: bool = True


@dataclasses.dataclass(frozen=True)
class LogQ(FamilySettings):
    """logq_correction: Correct sampled or in-batch negatives for item popularity."""

    logq_correction: bool = True


@dataclasses.dataclass(frozen=True)
class Temperature(FamilySettings):
    """temperature: Softmax temperature of the retrieval loss."""

    temperature: float = 0.1

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "temperature")]


@dataclasses.dataclass(frozen=True)
class RankingLoss(FamilySettings):
    """loss: softmax or approx_ndcg (listwise), bpr or triplet (pairwise), bce
    (pointwise); margin: the triplet loss's margin."""

    loss: Loss = "softmax"
    margin: float = 1.0


@dataclasses.dataclass(frozen=True)
class Hidden(FamilySettings):
    """hidden_layers: Widths of the dense layers on top of the embeddings."""

    hidden_layers: tuple[int, ...] = ()

    def problems(self) -> list[tuple[str, str]]:
        return [
            *super().problems(),
            *(
                (f"hidden_layers[{i}]", f"must be positive, got {width}")
                for i, width in enumerate(self.hidden_layers)
                if width <= 0
            ),
        ]


@dataclasses.dataclass(frozen=True)
class BiasStart(FamilySettings):
    """bias_l2: The ridge penalty of the user and item biases (an item with n ratings
    has its bias shrunk by n / (n + bias_l2)); the rating factor models start from the
    biases fitted at it."""

    bias_l2: float = 10.0


@dataclasses.dataclass(frozen=True)
class Recency(FamilySettings):
    """recency_half_life: Half-life, in interactions, of the boost a user's most recent
    items get in their query (0: off)."""

    recency_half_life: float = 0.0
