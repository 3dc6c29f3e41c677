"""Two-tower retrieval with in-batch softmax, optionally corrected for item popularity."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from recsearch.modules import features as keys
from recsearch.modules.models.towers import FeatureTower


class TwoTowerModel(tfrs.Model):
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
        self.item_probability = None
        if item_probability is not None:
            probability = np.asarray(item_probability, dtype=np.float32)
            if probability.ndim != 1 or (probability <= 0).any():
                raise ValueError("item_probability must be a positive vector over item indices")
            self.item_probability = tf.constant(probability)
        self.task = tfrs.tasks.Retrieval(temperature=temperature, remove_accidental_hits=True)

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
        probability = None
        if self.item_probability is not None:
            probability = tf.gather(self.item_probability, items)
        return self.task(
            self.query_vectors(features),
            self.candidate_vectors(features),
            candidate_sampling_probability=probability,
            candidate_ids=items,
            compute_metrics=not training,
        )
