"""`RecommenderModule`: the serving bundle's tf.Module, and its user-side signatures.

Signatures (all take raw inputs; the Transform graph inside encodes them):
  recommend(user_id [B]) -> item_ids [B, K] string, scores [B, K] float
  predict(user_id [B], item_id [B]) -> scores [B] float
  similar_items(item_id [B]) -> item_ids [B, K], scores [B, K] (cosine, itself excluded)
  embed_items(item_id [B]) -> embeddings [B, D] (zeros for an unknown item)
  search_text(query [B]) -> item_ids [B, K], scores [B, K]          (content models)
  search_image(image [B] encoded bytes) -> item_ids [B, K], scores  (content models)
  serving_default(examples [B] serialized tf.Example) -> score, rank, auc, log_loss [B]
    rank is the 0-based position of the example's item in the user's full
    ranking (seen items excluded); auc the share of the user's other unseen
    items scored below it; log_loss -log sigmoid(score) plus the mean of
    -log(1 - sigmoid) over those items. The Evaluator's metrics read them.

Candidates are every item of the catalog, including items added after
training (their vectors come from their content). Unknown users are served by
popularity (or by the model's own fallback, such as biases for matrix
factorisation); they are never an error.

The module is assembled from its parts, one per concept: `exact` (every
candidate scored), `rerank` (a two-stage bundle's ranker), `ann_companion`
(the ScaNN indexes of the companion bundle) and `search_heads` (similar items,
embeddings, text and image search). Here: encoding raw inputs with the
Transform graph, and `recommend`, `predict` and `serving_default`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch.config import Model
from recsearch.modules.ann import IndexParams
from recsearch.modules.preprocessing import dense_content
from recsearch.modules.serving.ann_companion import AnnCompanion
from recsearch.modules.serving.common import signature
from recsearch.modules.serving.exact import ExactRetrieval
from recsearch.modules.serving.rerank import Rerank
from recsearch.modules.serving.search_heads import SearchHeads
from recsearch.modules.training_data import Catalog

# serving_default's output of a two-stage bundle: the item's rank by retrieval alone.
RETRIEVAL_RANK = "retrieval_rank"
SIGNATURES = ("recommend", "predict", "similar_items", "embed_items", "serving_default")


class RecommenderModule(ExactRetrieval, Rerank, SearchHeads, AnnCompanion, tf.Module):
    """Wraps a trained model, the Transform graph and the catalog for serving."""

    def __init__(
        self,
        model: tf.keras.Model,
        catalog: Catalog,
        tft_output: tft.TFTransformOutput,
        top_k: int = 10,
        exclude_seen: bool = True,
        index_params: IndexParams | None = None,
        content: tf.keras.Model | None = None,
        ranker: tf.keras.Model | None = None,
        rerank_depth: int = Model.rerank_depth,
        similar_from_model: bool = False,
    ):
        """Builds the module.

        Args:
          model: A trained model with query_vectors, candidate_vectors,
            score_offset and fallback_query (and, for search, the text and
            image query encoders).
          catalog: Users, items and seen items of the training data.
          tft_output: The Transform output whose graph encodes raw inputs.
          top_k: Items per answer.
          exclude_seen: Leave out items the user interacted with in training.
          index_params: Build a ScaNN index over the candidates and answer
            recommend, similar_items and search with it (the exact path
            stays for serving_default and predict).
          content: A second trained model over the same catalog whose item
            vectors come from content (the two-tower model): it answers
            similar_items, embed_items, search_text and search_image, while
            `model` answers recommend, predict and serving_default. None:
            `model` answers everything.
          ranker: The ranking stage of a two-stage bundle (a pair-scoring
            network, modules/two_stage.py): `model` retrieves each user's
            `rerank_depth` best unseen candidates, the ranker orders them, and
            they come before every other candidate; `predict` gives a pair the
            score `recommend` orders by (the ranker's, added to the standardised
            retrieval score). None: `model` alone ranks.
          rerank_depth: Candidates the ranker reorders, N.
          similar_from_model: With `content`, `similar_items` of an item with
            interactions comes from `model`'s item-item similarity rather than
            the content vectors (`auto` measured it better, modules/selection.py).

        Raises:
          ValueError: On a non-positive top_k or an empty catalog.
        """
        super().__init__()
        if top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        if catalog.num_candidates == 0:
            raise ValueError("the catalog has no items")
        if index_params is not None and not getattr(model, "inner_product", True):
            raise ValueError(
                f"{type(model).__name__} scores pairs with a network, not an inner product, "
                "so an ANN index cannot search it: set serving.index to brute_force"
            )
        if index_params is not None and getattr(model, "scores_from_history", False):
            raise ValueError(
                f"{type(model).__name__} scores from sparse item-item rows, not an inner "
                "product of stored vectors, so an ANN index cannot search it: set "
                "serving.index to brute_force"
            )
        self.model = model
        self.top_k = min(top_k, catalog.num_candidates)
        self.exclude_seen = exclude_seen
        self.tft_layer = tft_output.transform_features_layer()
        self._raw_spec = tft_output.raw_feature_spec()
        # Transform writes items' text and pixels sparse (modules/preprocessing.py);
        # they are the item features with more than one value per item.
        self._content_shapes = {
            name: values.shape[1:]
            for name, values in catalog.item_features.items()
            if values.ndim > 1
        }
        self.item_ids = tf.Variable(catalog.item_ids.astype(str), trainable=False, dtype=tf.string)
        self.item_positions = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(catalog.item_ids.astype(str)),
                tf.range(catalog.num_candidates, dtype=tf.int64),
            ),
            default_value=-1,
        )
        self._init_rerank(ranker, catalog, rerank_depth)
        vectors = self._init_exact(model, catalog)
        content_vectors = self._init_heads(
            model, content, catalog, tft_output, vectors, similar_from_model
        )
        self._init_indexes(catalog, index_params, vectors, content_vectors, content is not None)

    # Encoding raw inputs.

    def _transform(self, given: Mapping[str, tf.Tensor]) -> dict:
        """The Transform graph's outputs that `given` raw features determine.

        Only the given inputs are fed: the graph is pruned to what they
        determine (a user id's lookup does not run the text and image steps),
        so each signature traces and runs a part of it.
        """
        raw = {}
        for name, value in given.items():
            spec = self._raw_spec[name]
            if isinstance(spec, tf.io.FixedLenFeature):
                shape = tf.concat([[-1], tf.constant(spec.shape, tf.int32)], axis=0)
                raw[name] = tf.reshape(tf.cast(value, spec.dtype), shape)
            else:  # one value per row
                values = tf.reshape(tf.cast(value, spec.dtype), [-1])
                rows = tf.range(tf.size(values, out_type=tf.int64))
                raw[name] = tf.SparseTensor(
                    indices=tf.stack([rows, tf.zeros_like(rows)], axis=1),
                    values=values,
                    dense_shape=tf.stack([tf.size(values, out_type=tf.int64), 1]),
                )
        return dense_content(self.tft_layer(raw), self._content_shapes)

    def _users(self, transformed: Mapping) -> tf.Tensor:
        return tf.reshape(tf.cast(transformed[keys.USER_ID], tf.int64), [-1])

    def _positions(self, item_id: tf.Tensor) -> tf.Tensor:
        """Candidate position of each raw item id, -1 when unknown."""
        return self.item_positions.lookup(tf.reshape(item_id, [-1]))

    @signature(tf.TensorSpec([None], tf.string, name="user_id"))
    def recommend(self, user_id: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._recommend(user_id, None)

    def _recommend_at(self, user_id: tf.Tensor, request_time: tf.Tensor) -> dict[str, tf.Tensor]:
        """`recommend` as if asked at `request_time` [B] (seconds, as the timestamp
        column): the candidates' ages are taken then (replays and backtests)."""
        return self._recommend(user_id, request_time)

    def _recommend(self, user_id: tf.Tensor, now: tf.Tensor | None) -> dict[str, tf.Tensor]:
        users = self._users(self._transform({keys.USER_ID: user_id}))
        if self.index is not None:
            return self._recommend_ann(users, now)
        if self.ranker is not None:
            # The ranker's own scores (what predict gives), not the shifted full ranking.
            scores = self.score_users(users, rerank=False)
            ranked, chosen = self._rerank(users, scores, self._every_position(scores), now)
            top = tf.math.top_k(ranked, k=self.top_k)
            positions = tf.gather(chosen, top.indices, batch_dims=1)
            return {"item_ids": tf.gather(self.item_ids, positions), "scores": top.values}
        return self._top(self.score_users(users))

    @signature(
        tf.TensorSpec([None], tf.string, name="user_id"),
        tf.TensorSpec([None], tf.string, name="item_id"),
    )
    def predict(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        users = self._users(self._transform({keys.USER_ID: user_id}))
        return {"scores": self._score_pairs(users, self._positions(item_id))}

    @signature(tf.TensorSpec([None], tf.string, name="examples"))
    def serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(examples, self._raw_spec)
        transformed = self.tft_layer(parsed)
        users = self._users(transformed)
        positions = self._positions(parsed[keys.ITEM_ID])
        in_catalog = positions >= 0
        safe = tf.maximum(positions, 0)
        # Each distinct user of the batch is scored once: the eval split is written
        # user by user, so a batch holds a few users' many examples.
        distinct, row = tf.unique(users)
        retrieval = self.score_users(distinct, rerank=False)
        if self.ranker is not None:
            now = None
            if self.freshness and keys.TIMESTAMP in transformed:
                # Each user's request comes at their earliest example of the batch.
                now = tf.math.unsorted_segment_min(
                    tf.reshape(tf.cast(transformed[keys.TIMESTAMP], tf.float64), [-1]),
                    row,
                    tf.size(distinct),
                )
            scores = tf.gather(self._rerank_all(distinct, retrieval, now), row)
        else:
            scores = tf.gather(retrieval, row)
        retrieval = tf.gather(retrieval, row)
        n = tf.shape(scores, tf.int64)[1]
        rank = rank_of(scores, safe, in_catalog)
        target = tf.gather(scores, safe, batch_dims=1)
        position = tf.range(n, dtype=tf.int64)[None, :]
        # Against every other unseen candidate: AUC, and a log loss that
        # weighs the item and the mean negative equally.
        others = tf.math.is_finite(scores) & (position != safe[:, None])
        count = tf.maximum(tf.reduce_sum(tf.cast(others, tf.float32), axis=1), 1.0)
        below = tf.cast(others & (scores < target[:, None]), tf.float32) + 0.5 * tf.cast(
            others & (scores == target[:, None]), tf.float32
        )
        auc = tf.where(in_catalog, tf.reduce_sum(below, axis=1) / count, 0.0)
        negative = tf.where(others, tf.nn.softplus(scores), 0.0)
        log_loss = tf.nn.softplus(-target) + tf.reduce_sum(negative, axis=1) / count
        outputs = {
            "rank": tf.cast(rank, tf.float32),
            "score": self._score_pairs(users, positions),
            "auc": auc,
            "log_loss": tf.where(in_catalog, log_loss, tf.constant(np.inf, tf.float32)),
        }
        if self.ranker is not None:
            # The retrieval stage's own rank: its recall at rerank_depth bounds the bundle's.
            outputs[RETRIEVAL_RANK] = tf.cast(rank_of(retrieval, safe, in_catalog), tf.float32)
        return outputs

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        result = {
            "recommend": self.recommend.get_concrete_function(),
            "predict": self.predict.get_concrete_function(),
            "similar_items": self.similar_items.get_concrete_function(),
            "embed_items": self.embed_items.get_concrete_function(),
            "serving_default": self.serve_examples.get_concrete_function(),
        }
        for name in ("search_text", "search_image", "recommend_at"):
            if hasattr(self, name):
                result[name] = getattr(self, name).get_concrete_function()
        return result


def rank_of(scores: tf.Tensor, positions: tf.Tensor, in_catalog: tf.Tensor) -> tf.Tensor:
    """0-based rank [B] of candidate `positions` [B] in each row of `scores` [B, N] (ties
    broken by position); N for an item outside the catalog."""
    n = tf.shape(scores, tf.int64)[1]
    target = tf.gather(scores, positions, batch_dims=1)
    position = tf.range(n, dtype=tf.int64)[None, :]
    ahead = (scores > target[:, None]) | (
        (scores == target[:, None]) & (position < positions[:, None])
    )
    # Counted in int32 (a catalog has fewer than 2**31 items): the [B, N] cast is the
    # largest tensor of the signature, and int64 doubled it.
    rank = tf.cast(tf.reduce_sum(tf.cast(ahead, tf.int32), axis=1), tf.int64)
    return tf.where(in_catalog, rank, tf.fill(tf.shape(rank), n))
