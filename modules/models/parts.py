"""What a family's builder needs of the run besides its own settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from recsearch.features import FeatureSpec
from recsearch.modules.training_data import Catalog


@dataclasses.dataclass(frozen=True)
class Parts:
    """The run's parts a model is built from.

    Attributes:
      spec: The feature specification.
      sizes: Index-space size of each id/categorical/hashed feature.
      text_vocab_size: Token-id space of text features (0 without text).
      catalog: Training catalog (item probabilities, mean rating).
      text_vocabulary: The text token vocabulary (for pretrained word vectors).
    """

    spec: FeatureSpec
    sizes: Mapping[str, int]
    text_vocab_size: int
    catalog: Catalog
    text_vocabulary: list[str] | None = None
