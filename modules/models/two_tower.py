"""Two-tower retrieval: in-batch softmax with logQ correction, content heads for search."""

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

    Hybrid content: with `id_dropout` > 0 the item id is replaced by the
    OOV index for that share of training examples, so the item tower learns
    to place items from their content alone (cold start). With
    `content_weight` > 0, projections of the item tower's text and image
    encoders are trained contrastively against the item vectors, which gives
    text and image queries a place in the same space (search).
    """

    def __init__(
        self,
        user_tower: FeatureTower,
        item_tower: FeatureTower,
        item_probability: np.ndarray | None = None,
        temperature: float = 0.1,
        id_dropout: float = 0.0,
        item_oov_index: int = 0,
        content_weight: float = 0.0,
        seed: int = 42,
        loss: str = "softmax",
        margin: float = 1.0,
    ):
        """Creates the model.

        Args:
          user_tower: Tower over user features, output [B, D].
          item_tower: Tower over item features, output [B, D].
          item_probability: Sampling probability of each item index [N], or
            None for no correction.
          temperature: Softmax temperature; must be positive.
          id_dropout: Share of training examples whose item id is hidden.
          item_oov_index: The index unknown item ids map to.
          content_weight: Weight of the text->item and image->item losses.
          seed: Seed of the id dropout.
          loss: Ranking loss over the in-batch scores: softmax, approx_ndcg,
            bpr, triplet or bce (see losses.py).
          margin: Margin of the triplet loss.

        Raises:
          ValueError: On an argument out of range.
        """
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 0.0 <= id_dropout < 1.0:
            raise ValueError(f"id_dropout must be in [0, 1), got {id_dropout}")
        if content_weight < 0:
            raise ValueError(f"content_weight must be non-negative, got {content_weight}")
        if loss not in losses.RANKING_LOSSES:
            raise ValueError(f"loss must be one of {losses.RANKING_LOSSES}, got {loss!r}")
        if user_tower.output_dim != item_tower.output_dim:
            raise ValueError(
                f"tower widths differ: {user_tower.output_dim} != {item_tower.output_dim}"
            )
        self.user_tower = user_tower
        self.item_tower = item_tower
        self.temperature = float(temperature)
        self.id_dropout = float(id_dropout)
        self.item_oov_index = int(item_oov_index)
        self.content_weight = float(content_weight)
        self.seed = int(seed)
        self.loss_name = loss
        self.margin = float(margin)
        self.item_log_q = None
        if item_probability is not None:
            probability = np.asarray(item_probability, dtype=np.float32)
            if probability.ndim != 1 or (probability <= 0).any():
                raise ValueError("item_probability must be a positive vector over item indices")
            self.item_log_q = tf.constant(np.log(probability))
        dim = item_tower.output_dim
        self.text_head = None
        self.image_head = None
        if content_weight > 0 and item_tower.text:
            self.text_head = tf.keras.layers.Dense(dim, name="text_query")
        if content_weight > 0 and item_tower.image_feature:
            self.image_head = tf.keras.layers.Dense(dim, name="image_query")

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.user_tower(features)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.item_tower(features)

    @property
    def searchable_by_text(self) -> bool:
        return self.text_head is not None

    @property
    def searchable_by_image(self) -> bool:
        return self.image_head is not None

    def text_query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Item-space vectors of the text features' tokens. [B, D]."""
        return self._finish(self.text_head(self.item_tower.encode_text(features)))

    def image_query_vectors(self, pixels: tf.Tensor) -> tf.Tensor:
        """Item-space vectors of images [B, S, S, 3]. [B, D]."""
        return self._finish(self.image_head(self.item_tower.image_encoder(pixels)))

    def _finish(self, vectors: tf.Tensor) -> tf.Tensor:
        return tf.math.l2_normalize(vectors, axis=1) if self.item_tower.normalize else vectors

    def _hide_ids(self, features: Mapping[str, tf.Tensor]) -> dict:
        items = features[keys.ITEM_ID]
        hidden = tf.random.uniform(tf.shape(items), seed=self.seed) < self.id_dropout
        oov = tf.fill(tf.shape(items), tf.constant(self.item_oov_index, items.dtype))
        return {**features, keys.ITEM_ID: tf.where(hidden, oov, items)}

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        items = features[keys.ITEM_ID]
        log_q = None if self.item_log_q is None else tf.gather(self.item_log_q, items)
        tower_input = self._hide_ids(features) if training and self.id_dropout else features
        candidates = self.candidate_vectors(tower_input)

        def rank(queries: tf.Tensor) -> tf.Tensor:
            logits, negatives = losses.in_batch_logits(
                queries, candidates, items, log_q=log_q, temperature=self.temperature
            )
            return losses.ranking_loss(self.loss_name, logits, negatives, self.margin)

        loss = rank(self.query_vectors(features))
        if self.text_head is not None:
            loss += self.content_weight * rank(self.text_query_vectors(features))
        if self.image_head is not None:
            pixels = features[self.item_tower.image_feature]
            loss += self.content_weight * rank(self.image_query_vectors(pixels))
        return loss
