"""The serving bundle: a SavedModel that takes raw ids and returns recommendations.

Signatures (all take raw strings; the Transform graph inside maps them to indices):
  recommend(user_id [B]) -> item_ids [B, K] string, scores [B, K] float
  predict(user_id [B], item_id [B]) -> scores [B] float
  serving_default(examples [B] serialized tf.Example) -> score [B], rank [B]
    rank is the 0-based position of the example's item in the user's full
    ranking (seen items excluded); the Evaluator's ranking metrics read it.

Unknown users are served by popularity (or by the model's own fallback, such
as biases only for matrix factorisation); they are never an error.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from recsearch.modules import features as keys
from recsearch.modules.training_data import Catalog

SIGNATURES = ("recommend", "predict", "serving_default")
_EXPORT_BATCH = 4096


def candidate_matrix(model: tf.keras.Model, catalog: Catalog) -> np.ndarray:
    """Candidate vectors of every in-vocabulary item, computed in batches. [N, D]."""
    chunks = []
    for start in range(0, catalog.num_candidates, _EXPORT_BATCH):
        index = np.arange(start, min(start + _EXPORT_BATCH, catalog.num_candidates))
        features = {keys.ITEM_ID: tf.constant(index, tf.int64)}
        for name, values in catalog.item_features.items():
            features[name] = tf.constant(values[index])
        chunks.append(model.candidate_vectors(features).numpy())
    return np.concatenate(chunks, axis=0)


class RecommenderModule(tf.Module):
    """Wraps a trained model, the Transform graph and the catalog for serving."""

    def __init__(
        self,
        model: tf.keras.Model,
        catalog: Catalog,
        tft_output: tft.TFTransformOutput,
        top_k: int = 10,
        exclude_seen: bool = True,
    ):
        """Builds the module.

        Args:
          model: A trained model with query_vectors, candidate_vectors,
            score_offset and fallback_query.
          catalog: Users, items and seen items of the training data.
          tft_output: The Transform output whose graph maps raw ids.
          top_k: Items per `recommend` answer.
          exclude_seen: Leave out items the user interacted with in training.

        Raises:
          ValueError: On a non-positive top_k or an empty catalog.
        """
        super().__init__()
        if top_k <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        if catalog.num_candidates == 0:
            raise ValueError("the catalog has no items")
        self.model = model
        self.tft_layer = tft_output.transform_features_layer()
        self._raw_spec = tft_output.raw_feature_spec()
        self.top_k = min(top_k, catalog.num_candidates)
        self.exclude_seen = exclude_seen
        self.candidates = tf.Variable(candidate_matrix(model, catalog), trainable=False)
        self.item_ids = tf.Variable(catalog.item_ids.astype(str), trainable=False, dtype=tf.string)
        popularity = np.log1p(catalog.item_counts[: catalog.num_candidates].astype(np.float32))
        self.popularity = tf.Variable(popularity, trainable=False)
        self.user_vocab_size = tf.constant(catalog.user_vocab_size, tf.int64)
        self.user_features = {
            name: tf.Variable(values, trainable=False)
            for name, values in catalog.user_features.items()
        }
        self.seen_row_splits = tf.Variable(catalog.seen_row_splits, trainable=False)
        self.seen_items = tf.Variable(catalog.seen_items, trainable=False)
        self.offset = tf.Variable(float(model.score_offset()), trainable=False)
        fallback = model.fallback_query()
        self.fallback = None if fallback is None else tf.Variable(fallback, trainable=False)

    def _raw_features(self, batch: tf.Tensor, given: Mapping[str, tf.Tensor]) -> dict:
        """A full raw feature dict for the Transform graph: given values, defaults elsewhere."""
        raw = {}
        for name, spec in self._raw_spec.items():
            if isinstance(spec, tf.io.FixedLenFeature):
                shape = tf.concat([[batch], tf.constant(spec.shape, tf.int32)], axis=0)
                if name in given:
                    raw[name] = tf.reshape(tf.cast(given[name], spec.dtype), shape)
                else:
                    zero = "" if spec.dtype == tf.string else 0
                    raw[name] = tf.fill(shape, tf.constant(zero, spec.dtype))
            else:
                raw[name] = tf.SparseTensor(
                    indices=tf.zeros([0, 2], tf.int64),
                    values=tf.zeros([0], spec.dtype),
                    dense_shape=tf.stack([tf.cast(batch, tf.int64), tf.constant(1, tf.int64)]),
                )
        return raw

    def _indices(self, raw: Mapping) -> tuple[tf.Tensor, tf.Tensor]:
        transformed = self.tft_layer(raw)
        users = tf.reshape(tf.cast(transformed[keys.USER_ID], tf.int64), [-1])
        items = tf.reshape(tf.cast(transformed[keys.ITEM_ID], tf.int64), [-1])
        return users, items

    def _queries(self, users: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Query vectors [B, D] and a known-user mask [B]."""
        features = {keys.USER_ID: users}
        for name, table in self.user_features.items():
            features[name] = tf.gather(table, users)
        queries = self.model.query_vectors(features)
        known = users < self.user_vocab_size
        if self.fallback is not None:
            fallback = tf.broadcast_to(self.fallback[None, :], tf.shape(queries))
            queries = tf.where(known[:, None], queries, fallback)
        return queries, known

    def _score_all(self, users: tf.Tensor) -> tf.Tensor:
        """Scores of every candidate [B, N], seen items at -inf when excluded."""
        queries, known = self._queries(users)
        scores = tf.matmul(queries, self.candidates, transpose_b=True) + self.offset
        if self.fallback is None:
            popular = tf.broadcast_to(self.popularity[None, :], tf.shape(scores))
            scores = tf.where(known[:, None], scores, popular)
        if self.exclude_seen:
            seen = tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_row_splits)
            rows = tf.gather(seen, users)
            index = tf.stack([rows.value_rowids(), rows.flat_values], axis=1)
            mask = tf.scatter_nd(
                index, tf.ones_like(rows.flat_values, tf.bool), tf.shape(scores, tf.int64)
            )
            scores = tf.where(mask, tf.constant(-np.inf, tf.float32), scores)
        return scores

    def _score_pairs(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        queries, known = self._queries(users)
        in_catalog = items < tf.shape(self.candidates, tf.int64)[0]
        safe = tf.where(in_catalog, items, tf.zeros_like(items))
        scores = tf.reduce_sum(queries * tf.gather(self.candidates, safe), axis=1) + self.offset
        if self.fallback is None:
            scores = tf.where(known, scores, tf.gather(self.popularity, safe))
            unknown_item = tf.constant(-np.inf, tf.float32)
        else:
            unknown_item = self.offset
        return tf.where(in_catalog, scores, tf.fill(tf.shape(scores), unknown_item))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="user_id")])
    def recommend(self, user_id: tf.Tensor) -> dict[str, tf.Tensor]:
        batch = tf.shape(user_id)[0]
        users, _ = self._indices(self._raw_features(batch, {keys.USER_ID: user_id}))
        top = tf.math.top_k(self._score_all(users), k=self.top_k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([None], tf.string, name="item_id"),
        ]
    )
    def predict(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        batch = tf.shape(user_id)[0]
        raw = self._raw_features(batch, {keys.USER_ID: user_id, keys.ITEM_ID: item_id})
        users, items = self._indices(raw)
        return {"scores": self._score_pairs(users, items)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        users, items = self._indices(tf.io.parse_example(examples, self._raw_spec))
        scores = self._score_all(users)
        n = tf.shape(scores, tf.int64)[1]
        in_catalog = items < n
        safe = tf.where(in_catalog, items, tf.zeros_like(items))
        target = tf.gather(scores, safe, batch_dims=1)
        position = tf.range(n, dtype=tf.int64)[None, :]
        ahead = (scores > target[:, None]) | (
            (scores == target[:, None]) & (position < safe[:, None])
        )
        rank = tf.reduce_sum(tf.cast(ahead, tf.int64), axis=1)
        rank = tf.where(in_catalog, rank, tf.fill(tf.shape(rank), n))
        pair_scores = self._score_pairs(users, items)
        return {"rank": tf.cast(rank, tf.float32), "score": pair_scores}

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        return {
            "recommend": self.recommend.get_concrete_function(),
            "predict": self.predict.get_concrete_function(),
            "serving_default": self.serve_examples.get_concrete_function(),
        }


def export(module: RecommenderModule, path: str) -> None:
    """Saves the module with its three signatures."""
    tf.saved_model.save(module, path, signatures=module.signatures())
