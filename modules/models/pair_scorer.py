"""PairScorer: ranking models whose score is a network over a (user, item) pair.

NeuMF, Wide & Deep, DeepFM and DCN-v2 read the field vectors of a user and an
item (`FieldEmbeddings`) and combine them in a network, so a score is not an
inner product and no ANN index can search them. Serving scores every
candidate exactly, one user at a time (`score_matrix`).

Training: the positive pair of each row against S sampled negatives. By
default they are drawn uniformly from the catalog (`negative_pool`), as NCF
trains: every item, popular or not, is regularly shown as a negative, which
a full-catalog ranking needs (with negatives drawn from the batch only, the
long tail is never pushed down; measured in docs/benchmarks.md). Without a
pool the negatives are the items of other rows of the batch (the batch
shifted by 1..S), which follow popularity, with the logQ correction. Any
ranking loss of `losses` can be used; "bce" is the click-prediction
objective of the papers, "softmax" the listwise one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import TOP_K_TASKS, Family, positive
from recsearch.modules.models import arguments, losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.fields import FieldEmbeddings
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import (
    Embedding,
    Hidden,
    LogQ,
    Penalty,
    RankingLoss,
    SideFeatures,
)

DEFAULT_HIDDEN = (64, 32)
# Buckets of an item's age, log(1 + days), for the ranking stage's freshness term:
# a quarter wide up to 8 (about eight years), then one for every older item.
AGE_BOUNDARIES = [0.25 * i for i in range(1, 33)]


def mlp(widths: Sequence[int], name: str) -> list[tf.keras.layers.Layer]:
    """ReLU layers of the given widths."""
    return [
        tf.keras.layers.Dense(w, activation="relu", name=f"{name}_{i}")
        for i, w in enumerate(widths)
    ]


def flatten(fields: tf.Tensor) -> tf.Tensor:
    """[B, F, k] -> [B, F * k], with a static width for the dense layers."""
    return tf.reshape(fields, [-1, int(fields.shape[1]) * int(fields.shape[2])])


def apply(layers: Sequence[tf.keras.layers.Layer], x: tf.Tensor) -> tf.Tensor:
    for layer in layers:
        x = layer(x)
    return x


class PairScorer(RecommenderModel):
    """Base of the pair-scoring models; subclasses implement `interact`."""

    inner_product = False

    def __init__(
        self,
        user_fields: FieldEmbeddings,
        item_fields: FieldEmbeddings,
        item_probability: np.ndarray | None = None,
        num_negatives: int = 8,
        loss: str = "softmax",
        margin: float = 1.0,
        negative_pool: Mapping[str, np.ndarray] | None = None,
        seed: int = 42,
    ):
        """Creates the model.

        Args:
          user_fields: The user's fields (id first among its tables).
          item_fields: The item's fields.
          item_probability: Sampling probability of each item index, for the
            logQ correction of the sampled negatives; None for none.
          num_negatives: Negatives per positive, S.
          loss: A ranking loss of `losses.RANKING_LOSSES`.
          margin: Margin of the triplet loss.
          negative_pool: Item-field features of the items negatives are drawn
            from uniformly, {feature: [N, ...]}; None draws them from the batch.
          seed: Seed of the uniform draws.

        Raises:
          ValueError: On a bad argument.
        """
        super().__init__()
        arguments.positive(num_negatives=num_negatives)
        arguments.one_of(losses.RANKING_LOSSES, loss=loss)
        if user_fields.dim != item_fields.dim:
            raise ValueError(f"field widths differ: {user_fields.dim} != {item_fields.dim}")
        self.user_fields = user_fields
        self.item_fields = item_fields
        self.num_negatives = int(num_negatives)
        self.loss_name = loss
        self.margin = float(margin)
        self.seed = int(seed)
        self.item_log_q = None
        if item_probability is not None:
            self.item_log_q = tf.constant(np.log(np.asarray(item_probability, np.float32)))
        # Used by the ranking stage of two only (`rerank_scores`).
        self.stage_gate = self.add_weight(
            name="stage_gate", shape=(), initializer=tf.keras.initializers.Constant(0.1)
        )
        self.freshness = self.add_weight(
            name="freshness", shape=(len(AGE_BOUNDARIES) + 1,), initializer="zeros"
        )
        self.negative_pool = None
        if negative_pool:
            read = set(item_fields.categorical) | set(item_fields.numeric)
            self.negative_pool = {
                name: tf.Variable(np.asarray(values), trainable=False, name=f"pool_{name}")
                for name, values in negative_pool.items()
                if name in read
            }
            self.pool_size = len(next(iter(negative_pool.values())))

    def rerank_scores(
        self, scores: tf.Tensor, retrieval: tf.Tensor, ages: tf.Tensor | None = None
    ) -> tf.Tensor:
        """As the ranking stage of two: the standardised retrieval scores plus this
        network's, weighed by a learned gate that starts small, so training starts from
        the retrieval order and moves away from it only as far as it helps.

        `ages`: each candidate's age at the request's time, log(1 + days) (same shape
        as `scores`); a learned term per age bucket (`AGE_BOUNDARIES`) is added, zero
        at first: how much fresher items gain. None: no freshness term.
        """
        ranked = retrieval + self.stage_gate * scores
        if ages is None:
            return ranked
        buckets = tf.raw_ops.Bucketize(input=tf.cast(ages, tf.float32), boundaries=AGE_BOUNDARIES)
        return ranked + tf.gather(self.freshness, buckets)

    def interact(self, user: tf.Tensor, item: tf.Tensor, linear: tf.Tensor) -> tf.Tensor:
        """Scores [B] from user fields [B, Fu, k], item fields [B, Fi, k], first-order sum [B]."""
        raise NotImplementedError("subclasses implement interact")

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.user_fields(features)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        return self.item_fields(features)

    def score_pairs(self, queries: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
        user, user_linear = self.user_fields.split(queries)
        item, item_linear = self.item_fields.split(candidates)
        return self.interact(user, item, user_linear + item_linear)

    def score_matrix(self, queries: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
        """Every candidate for each query, one query at a time (memory N x width)."""
        count = tf.shape(candidates)[0]

        def one(query: tf.Tensor) -> tf.Tensor:
            return self.score_pairs(tf.tile(query[None, :], [count, 1]), candidates)

        return tf.map_fn(one, queries, fn_output_signature=tf.TensorSpec([None], tf.float32))

    def _negatives(
        self, items: tf.Tensor, candidates: tf.Tensor, hard: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """Negative ids [B, S], their candidate vectors [S * B, Dc] (block s is the
        s-th negative of every row) and their log q [B, S] (None: uniform).

        `hard`: given negatives per row, [B, S] positions in the negative pool
        (the catalog's vocabulary items), used instead of drawn ones.
        """
        count = self.num_negatives
        if hard is not None and self.negative_pool is not None:
            # The ranking stage: the retrieval stage's own candidates, [B, S] pool positions.
            flat = tf.reshape(tf.transpose(tf.cast(hard, tf.int64)), [-1])
            pool = {name: tf.gather(table, flat) for name, table in self.negative_pool.items()}
            ids = tf.gather(self.negative_pool[keys.ITEM_ID], tf.cast(hard, tf.int64))
            return tf.cast(ids, tf.int64), self.candidate_vectors(pool), None
        if self.negative_pool is not None:
            batch = tf.shape(items, tf.int64)[0]
            draws = tf.random.uniform(
                tf.stack([tf.constant(count, tf.int64), batch]),
                0,
                self.pool_size,
                dtype=tf.int64,
                seed=self.seed,
            )
            flat = tf.reshape(draws, [-1])
            pool = {name: tf.gather(table, flat) for name, table in self.negative_pool.items()}
            ids = tf.gather(self.negative_pool[keys.ITEM_ID], tf.transpose(draws))
            return tf.cast(ids, tf.int64), self.candidate_vectors(pool), None
        shifts = range(1, count + 1)
        ids = tf.stack([tf.roll(items, s, axis=0) for s in shifts], axis=1)
        vectors = tf.concat([tf.roll(candidates, s, axis=0) for s in shifts], axis=0)
        log_q = None if self.item_log_q is None else tf.gather(self.item_log_q, ids)
        return ids, vectors, log_q

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        items = tf.cast(features[keys.ITEM_ID], tf.int64)
        queries = self.query_vectors(features)
        candidates = self.candidate_vectors(features)
        hard = features.get(keys.HARD_NEGATIVES)
        negative_ids, negative_vectors, log_q = self._negatives(items, candidates, hard)
        count = self.num_negatives if hard is None else int(hard.shape[1])
        # One network call over the positives and all negatives: [B * (1 + S)].
        scores = self.score_pairs(
            tf.tile(queries, [1 + count, 1]),
            tf.concat([candidates, negative_vectors], axis=0),
        )
        scores = tf.transpose(tf.reshape(scores, [1 + count, -1]))
        if keys.RETRIEVAL_SCORES in features:
            # The ranking stage corrects the retrieval stage's (standardised) scores.
            retrieval = tf.cast(features[keys.RETRIEVAL_SCORES], tf.float32)
            scores = self.rerank_scores(scores, retrieval, features.get(keys.CANDIDATE_AGES))
        logits, negatives, labels = losses.sampled_logits(
            scores[:, 0], scores[:, 1:], items, negative_ids, log_q=log_q
        )
        return losses.ranking_loss(
            self.loss_name, logits, negatives, self.margin, labels, features.get(keys.WEIGHT)
        )


@dataclasses.dataclass(frozen=True)
class PairSettings(Embedding, Hidden, SideFeatures, LogQ, RankingLoss, Penalty):
    """The settings of the networks over a pair (NeuMF, Wide & Deep, DeepFM, DCN-v2).

    Attributes:
      num_negatives: Sampled negatives per positive.
      negative_sampling: "uniform" (drawn from the whole catalog, as NCF trains)
        or "batch" (other rows' items, popularity-distributed, logQ-corrected).
    """

    num_negatives: int = 8
    negative_sampling: Literal["uniform", "batch"] = "uniform"

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "num_negatives")]


def pair_family(name: str, settings: type, network: type, **arguments: str) -> Family:
    """The family of a pair network: `arguments` maps the network's own constructor
    arguments to the settings that give them (DCN's `num_cross_layers`: `cross_layers`)."""

    def build(cfg: PairSettings, parts: Parts) -> PairScorer:
        """The network over the id, categorical, hashed and numeric fields (text and
        image features are not fields of these models: use two_tower)."""
        spec, catalog = parts.spec, parts.catalog
        side = cfg.use_side_features
        width = cfg.embedding_dim * getattr(network, "FIELD_WIDTH", 1)

        def fields(id_feature, categorical, numeric, offset):
            names = (id_feature, *(categorical if side else ()))
            return FieldEmbeddings(
                {n: parts.sizes[n] for n in names},
                numeric=numeric if side else (),
                dim=width,
                l2=float(cfg.l2),
                seed=cfg.seed + offset,
            )

        return network(
            fields(keys.USER_ID, spec.user_categorical + spec.user_hashed, spec.user_numeric, 0),
            fields(keys.ITEM_ID, spec.item_categorical + spec.item_hashed, spec.item_numeric, 500),
            catalog.item_probability() if cfg.logq_correction else None,
            num_negatives=cfg.num_negatives,
            loss=cfg.loss,
            margin=float(cfg.margin),
            negative_pool=catalog.candidate_features(np.arange(catalog.item_vocab_size))
            if cfg.negative_sampling == "uniform"
            else None,
            seed=cfg.seed,
            hidden_layers=tuple(cfg.hidden_layers),
            **{arg: getattr(cfg, setting) for arg, setting in arguments.items()},
        )

    # Scored by a network over the pair: no inner product for an ANN index to search.
    return Family(name, settings, build, TOP_K_TASKS, inner_product=False)
