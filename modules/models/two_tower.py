"""Two-tower retrieval with in-batch softmax, optionally corrected for item popularity."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from recsearch.modules import features as keys
from recsearch.modules.models import losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.towers import FeatureTower


class TwoTowerModel(RecommenderModel):
    """User tower and item tower trained so a user's items score highest.

    The loss is a softmax over the other items of the batch. In-batch
    negatives are drawn in proportion to popularity, so with
    `item_probability` the logits are corrected by -log(probability)
    ("logQ" correction) and popular items are not over-penalised.
    """

    def __init__(
        self,
        user_tower: FeatureTower,
        item_tower: FeatureTower,
        item_probability: np.ndarray | None = None,
        temperature: float = 0.1,
    ):
        """Creates the model.

        Args:
          user_tower: Tower over user features, output [B, D].
          item_tower: Tower over item features, output [B, D].
          item_probability: Sampling probability of each item index [N], or
            None for no correction.
          temperature: Softmax temperature; must be positive.

        Raises:
          ValueError: On a non-positive temperature or a bad probability vector.
        """
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if user_tower.output_dim != item_tower.output_dim:
            raise ValueError(
                f"tower widths differ: {user_tower.output_dim} != {item_tower.output_dim}"
            )
        self.user_tower = user_tower
        self.item_tower = item_tower
        self.temperature = float(temperature)
        self.item_log_q = None
        if item_probability is not None:
            probability = np.asarray(item_probability, dtype=np.float32)
            if probability.ndim != 1 or (probability <= 0).any():
                raise ValueError("item_probability must be a positive vector over item indices")
            self.item_log_q = tf.constant(np.log(probability))

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.user_tower(features)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.item_tower(features)

    def score_offset(self) -> float:
        return 0.0

    def fallback_query(self) -> tf.Tensor | None:
        """Query vector of unknown users; None means: serve by popularity."""
        return None

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        items = features[keys.ITEM_ID]
        log_q = None if self.item_log_q is None else tf.gather(self.item_log_q, items)
        return losses.in_batch_softmax(
            self.query_vectors(features),
            self.candidate_vectors(features),
            candidate_ids=items,
            log_q=log_q,
            temperature=self.temperature,
        )
