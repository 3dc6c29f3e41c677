"""Two-tower retrieval: in-batch softmax with logQ correction, content heads for search."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import TOP_K_TASKS, Family, positive, register
from recsearch.modules.models import arguments, losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.encoders import ImageEncoder, TextEncoder, read_word_vectors
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import (
    Embedding,
    Hidden,
    LogQ,
    Penalty,
    RankingLoss,
    SideFeatures,
    Temperature,
)
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
        mixed_negatives: int = 0,
        negative_pool: Mapping[str, np.ndarray] | None = None,
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
          mixed_negatives: Items drawn uniformly from `negative_pool` per
            batch and added to the in-batch negatives (mixed negative
            sampling, Yang et al. 2020): in-batch negatives are all popular
            items; uniform ones also push down the long tail.
          negative_pool: Item-tower features of the items to draw from (the
            vocabulary items), {feature: [N, ...]}; needed for mixed_negatives.

        Raises:
          ValueError: On an argument out of range.
        """
        super().__init__()
        arguments.positive(temperature=temperature)
        arguments.fraction(id_dropout=id_dropout)
        arguments.non_negative(content_weight=content_weight, mixed_negatives=mixed_negatives)
        arguments.one_of(losses.RANKING_LOSSES, loss=loss)
        if mixed_negatives and not negative_pool:
            raise ValueError("mixed_negatives needs a negative_pool of item features")
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
        self.mixed_negatives = int(mixed_negatives)
        self.negative_pool = None
        if self.mixed_negatives:
            self.negative_pool = {
                name: tf.Variable(np.asarray(values), trainable=False, name=f"pool_{name}")
                for name, values in negative_pool.items()
            }
            self.pool_size = len(next(iter(negative_pool.values())))
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

    def _mixed_negatives(self) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """Vectors, item indices and log q of `mixed_negatives` uniform draws from the pool."""
        draws = tf.random.uniform(
            [self.mixed_negatives], 0, self.pool_size, dtype=tf.int64, seed=self.seed + 1
        )
        features = {name: tf.gather(table, draws) for name, table in self.negative_pool.items()}
        ids = features[keys.ITEM_ID]
        log_q = None
        if self.item_log_q is not None:  # the same correction, for a uniform draw
            log_q = tf.fill([self.mixed_negatives], -tf.math.log(float(self.pool_size)))
        return self.candidate_vectors(features), ids, log_q

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        items = features[keys.ITEM_ID]
        log_q = None if self.item_log_q is None else tf.gather(self.item_log_q, items)
        tower_input = self._hide_ids(features) if training and self.id_dropout else features
        # Items' text and image are encoded once per distinct item of the batch, and the
        # same vectors serve the item tower and the text and image queries.
        content = self.item_tower.encode_content(tower_input, by=features.get(keys.ITEM_KEY))
        candidates = self.item_tower(tower_input, content=content)
        extra = self._mixed_negatives() if training and self.mixed_negatives else None
        weights = features.get(keys.WEIGHT)  # interactions.weight, when configured

        def rank(queries: tf.Tensor) -> tf.Tensor:
            logits, negatives = losses.in_batch_logits(
                queries,
                candidates,
                items,
                log_q=log_q,
                temperature=self.temperature,
                extra=extra,
            )
            return losses.ranking_loss(
                self.loss_name, logits, negatives, self.margin, weights=weights
            )

        loss = rank(self.query_vectors(features))
        if self.text_head is not None:  # as text_query_vectors
            loss += self.content_weight * rank(self._finish(self.text_head(content["text"])))
        if self.image_head is not None:  # as image_query_vectors
            loss += self.content_weight * rank(self._finish(self.image_head(content["image"])))
        return loss


@dataclasses.dataclass(frozen=True)
class TwoTowerSettings(Embedding, Hidden, LogQ, Temperature, RankingLoss, Penalty, SideFeatures):
    """The two-tower model's settings, beyond the shared ones.

    Attributes:
      normalize: L2-normalise tower outputs (cosine similarity).
      mixed_negatives: Items drawn uniformly from the catalog per batch and
        added to the in-batch negatives (0: in-batch only).
      text_encoder: "bag" (mean of token embeddings) or "cnn" (Kim-style 1-D CNN).
      text_dim: Token embedding width.
      word_vectors: Optional GloVe-format text file of pretrained token vectors.
      image_encoder: "cnn" (trained here) or "backbone" (pretrained, frozen).
      image_backbone: Local Keras model file for image_encoder "backbone".
      image_dim: Width of the image encoder's output.
      id_dropout: Share of training examples whose item id is hidden, so the
        item tower learns to place items from content (cold start).
      content_weight: Weight of the text->item and image->item contrastive
        losses; above 0 the bundle gets search_text / search_image when items
        have text / images; 0 turns them off.
    """

    normalize: bool = True
    mixed_negatives: int = 0
    text_encoder: Literal["bag", "cnn"] = "bag"
    text_dim: int = 32
    word_vectors: str | None = dataclasses.field(default=None, metadata={"path": True})
    image_encoder: Literal["cnn", "backbone"] = "cnn"
    image_backbone: str | None = dataclasses.field(default=None, metadata={"path": True})
    image_dim: int = 32
    id_dropout: float = 0.0
    content_weight: float = 0.5

    def problems(self) -> list[tuple[str, str]]:
        found = [*super().problems(), *positive(self, "text_dim", "image_dim")]
        if self.mixed_negatives < 0:
            found.append(("mixed_negatives", f"must be >= 0, got {self.mixed_negatives}"))
        if not 0.0 <= self.id_dropout < 1.0:
            found.append(("id_dropout", f"must be in [0, 1), got {self.id_dropout}"))
        if self.content_weight < 0:
            found.append(("content_weight", f"must not be negative, got {self.content_weight}"))
        if self.image_encoder == "backbone" and not self.image_backbone:
            found.append(
                ("image_backbone", "must name a Keras model file for image_encoder 'backbone'")
            )
        return found


def build(cfg: TwoTowerSettings, parts: Parts) -> TwoTowerModel:
    """The two-tower model: ids, side fields and, with items' content, text and image encoders."""
    spec, catalog, sizes = parts.spec, parts.catalog, parts.sizes
    side = cfg.use_side_features
    text_encoder = image_encoder = None
    if side and spec.item_text:
        pretrained = None
        if cfg.word_vectors:
            pretrained = read_word_vectors(
                cfg.word_vectors, parts.text_vocabulary or [], parts.text_vocab_size
            )
        text_encoder = TextEncoder(
            parts.text_vocab_size,
            dim=pretrained.shape[1] if pretrained is not None else cfg.text_dim,
            kind=cfg.text_encoder,
            pretrained=pretrained,
        )
    if side and spec.item_image:
        image_encoder = ImageEncoder(
            kind=cfg.image_encoder, output_dim=cfg.image_dim, backbone_path=cfg.image_backbone
        )

    def tower(id_feature, categorical, numeric, text=(), image=None, offset=0):
        names = (id_feature, *(categorical if side else ()))
        return FeatureTower(
            id_feature=id_feature,
            cardinalities={n: sizes[n] for n in names},
            numeric=numeric if side else (),
            text=text if side else (),
            text_encoder=text_encoder if text else None,
            image_feature=keys.IMAGE if image else None,
            image_encoder=image,
            output_dim=cfg.embedding_dim,
            hidden_layers=tuple(cfg.hidden_layers),
            normalize=bool(cfg.normalize),
            l2=float(cfg.l2),
            seed=cfg.seed + offset,
        )

    user_tower = tower(keys.USER_ID, spec.user_categorical + spec.user_hashed, spec.user_numeric)
    item_tower = tower(
        keys.ITEM_ID,
        spec.item_categorical + spec.item_hashed,
        spec.item_numeric,
        spec.item_text,
        image_encoder,
        offset=1000,
    )
    return TwoTowerModel(
        user_tower,
        item_tower,
        catalog.item_probability() if cfg.logq_correction else None,
        temperature=float(cfg.temperature),
        id_dropout=float(cfg.id_dropout),
        item_oov_index=catalog.item_vocab_size,
        content_weight=float(cfg.content_weight) if side else 0.0,
        seed=cfg.seed,
        loss=cfg.loss,
        margin=float(cfg.margin),
        mixed_negatives=cfg.mixed_negatives,
        negative_pool=catalog.candidate_features(np.arange(catalog.item_vocab_size))
        if cfg.mixed_negatives
        else None,
    )


FAMILY = register(Family("two_tower", TwoTowerSettings, build, TOP_K_TASKS, inner_product=True))
