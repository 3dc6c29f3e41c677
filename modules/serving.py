"""The serving bundle: a SavedModel that takes raw ids (or text, or images) and returns items.

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
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch.bundle import companion_path
from recsearch.config import Model
from recsearch.modules import answers
from recsearch.modules.ann import IndexParams, build_index
from recsearch.modules.preprocessing import dense_content
from recsearch.modules.training_data import Catalog

# The ranking stage's input: retrieval scores standardised over the user's
# candidates, clipped to this (an excluded item gets the low end).
SCORE_CLIP = 6.0
DAY_SECONDS = 86400.0
# serving_default's output of a two-stage bundle: the item's rank by retrieval alone.
RETRIEVAL_RANK = "retrieval_rank"
SIGNATURES = ("recommend", "predict", "similar_items", "embed_items", "serving_default")
_EXPORT_BATCH = 4096
_STRINGS = tf.TensorSpec([None], tf.string)


def candidate_matrix(model: tf.keras.Model, catalog: Catalog) -> np.ndarray:
    """Candidate vectors of every catalog item, computed in batches. [N, D]."""
    chunks = []
    for start in range(0, catalog.num_candidates, _EXPORT_BATCH):
        positions = np.arange(start, min(start + _EXPORT_BATCH, catalog.num_candidates))
        features = {k: tf.constant(v) for k, v in catalog.candidate_features(positions).items()}
        chunks.append(model.candidate_vectors(features).numpy())
    return np.concatenate(chunks, axis=0)


def _signature(*specs: tf.TensorSpec):
    """A serving signature's tf.function, traced without autograph.

    The signatures branch only in Python, on the module's attributes (`if
    self.index is not None`), never on tensors; autograph's conversion of every
    function they call was most of each export's time.
    """
    return tf.function(input_signature=list(specs), autograph=False)


class RecommenderModule(tf.Module):
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
        self.model = model
        self.ranker = ranker
        self.rerank_depth = min(int(rerank_depth), catalog.num_candidates)
        if ranker is not None:
            if self.rerank_depth < 1:
                raise ValueError(f"rerank_depth must be positive, got {rerank_depth}")
            self.rank_candidates = tf.Variable(candidate_matrix(ranker, catalog), trainable=False)
        # The ranking stage's freshness term reads each candidate's age at the request's time.
        self.freshness = (
            ranker is not None
            and bool(getattr(ranker, "reads_ages", False))
            and catalog.item_first_seen is not None
        )
        if self.freshness:
            self.item_first_seen = tf.Variable(
                catalog.item_first_seen.astype(np.float64), trainable=False
            )
            self.recommend_at = _signature(
                tf.TensorSpec([None], tf.string, name="user_id"),
                tf.TensorSpec([None], tf.int64, name="request_time"),
            )(self._recommend_at)
        self.content_model = content if content is not None else model
        self.tft_layer = tft_output.transform_features_layer()
        self._raw_spec = tft_output.raw_feature_spec()
        # Transform writes items' text and pixels sparse (modules/preprocessing.py);
        # they are the item features with more than one value per item.
        self._content_shapes = {
            name: values.shape[1:]
            for name, values in catalog.item_features.items()
            if values.ndim > 1
        }
        self._text_features = [
            n for n in getattr(getattr(self.content_model, "item_tower", None), "text", []) or []
        ]
        self.top_k = min(top_k, catalog.num_candidates)
        self.exclude_seen = exclude_seen
        # A model that scores from sparse item-item rows over the user's history (EASE)
        # is asked for whole score rows: no candidate matrix is stored for it.
        self.from_history = bool(getattr(model, "scores_from_history", False))
        vectors = None
        if self.from_history:
            if index_params is not None:
                raise ValueError(
                    f"{type(model).__name__} scores from sparse item-item rows, not an inner "
                    "product of stored vectors, so an ANN index cannot search it: set "
                    "serving.index to brute_force"
                )
            vocab = catalog.item_index[np.arange(catalog.num_candidates)].astype(np.int64)
            # Each candidate's vocabulary row; items outside it read the zero column V.
            rows = np.where(vocab < catalog.item_vocab_size, vocab, catalog.item_vocab_size)
            self.candidate_rows = tf.Variable(rows, trainable=False)
        else:
            vectors = candidate_matrix(model, catalog)
            self.candidates = tf.Variable(vectors, trainable=False)
        # Item vectors of the content side: search, similar items, embeddings. A
        # history-scored model alone answers similar items from its item-item rows.
        content_vectors = vectors if content is None else candidate_matrix(content, catalog)
        self.content_candidates = None
        if content_vectors is not None:
            self.content_candidates = (
                self.candidates
                if content is None
                else tf.Variable(content_vectors, trainable=False)
            )
            # Cosine similarity divides by the norms at query time: the matrix is stored once.
            norms = np.maximum(np.linalg.norm(content_vectors, axis=1, keepdims=True), 1e-12)
            self.content_norms = tf.Variable(norms[:, 0].astype(np.float32), trainable=False)
        self.similar_from_model = bool(similar_from_model and content is not None)
        if self.similar_from_model:
            # Items with interactions in training: the model knows them beyond content.
            self.warm = tf.Variable(np.asarray(catalog.item_counts) > 0, trainable=False)
            if not self.from_history:
                model_norms = np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
                self.model_norms = tf.Variable(model_norms.astype(np.float32), trainable=False)
        self.item_ids = tf.Variable(catalog.item_ids.astype(str), trainable=False, dtype=tf.string)
        self.item_positions = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(catalog.item_ids.astype(str)),
                tf.range(catalog.num_candidates, dtype=tf.int64),
            ),
            default_value=-1,
        )
        self.popularity = tf.Variable(
            np.log1p(catalog.item_counts.astype(np.float32)), trainable=False
        )
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
        # Search signatures exist only for models that encode text or images;
        # as attributes, not methods, so saving does not trace them otherwise.
        if getattr(self.content_model, "searchable_by_text", False) and self._text_features:
            # Token ids 1..size are words of the vocabulary; above it, hashed unknown words.
            self.text_vocab_size = tf.constant(
                tft_output.vocabulary_size_by_name(keys.TEXT_VOCAB), tf.int64
            )
            self.search_text = _signature(tf.TensorSpec([None], tf.string, name="query"))(
                self._search_text
            )
        if getattr(self.content_model, "searchable_by_image", False) and (
            keys.IMAGE in self._raw_spec
        ):
            self.search_image = _signature(tf.TensorSpec([None], tf.string, name="image"))(
                self._search_image
            )
        self.index = None
        if index_params is not None:
            seen_counts = np.diff(catalog.seen_row_splits)
            most_seen = int(seen_counts.max()) if len(seen_counts) and exclude_seen else 0
            wanted = self.top_k if ranker is None else max(self.top_k, self.rerank_depth)
            self.fetch_k = min(catalog.num_candidates, wanted + most_seen + 1)
            self.index = build_index(vectors, self.fetch_k, index_params)
            self.search_index = (
                self.index
                if content is None
                else build_index(content_vectors, self.fetch_k, index_params)
            )
            self.unit_index = build_index(content_vectors / norms, self.fetch_k, index_params)

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

    # Scoring.

    def _user_features(self, users: tf.Tensor) -> dict[str, tf.Tensor]:
        features = {keys.USER_ID: users}
        for name, table in self.user_features.items():
            features[name] = tf.gather(table, users)
        return features

    def _model_scores(self, users: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The model's score of every candidate [B, N], and a known-user mask [B]."""
        if self.from_history:
            rows = self._over_candidates(self.model.vocabulary_scores(users))
            return rows + self.offset, users < self.user_vocab_size
        queries, known = self._queries(users)
        return self.model.score_matrix(queries, self.candidates), known

    def _over_candidates(self, vocabulary_rows: tf.Tensor) -> tf.Tensor:
        """Rows over the vocabulary [B, V] as rows over the candidates [B, N] (0 when cold)."""
        padded = tf.pad(vocabulary_rows, [[0, 0], [0, 1]])
        return tf.gather(padded, self.candidate_rows, axis=1)

    def _queries(self, users: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Query vectors [B, D] and a known-user mask [B]."""
        queries = self.model.query_vectors(self._user_features(users))
        known = users < self.user_vocab_size
        if self.fallback is not None:
            fallback = tf.broadcast_to(self.fallback[None, :], tf.shape(queries))
            queries = tf.where(known[:, None], queries, fallback)
        return queries, known

    def score_users(
        self, users: tf.Tensor, rerank: bool = True, now: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Scores of every candidate [B, N] for user indices [B], seen items at -inf when excluded.

        Unknown users get the popularity scores (or the model's fallback query).
        With a ranker (and `rerank`), in the two-stage order (`_rerank_all`) at
        request times `now` [B] (seconds; None: the clock's).
        """
        scores, known = self._model_scores(users)
        if self.fallback is None:
            popular = tf.broadcast_to(self.popularity[None, :], tf.shape(scores))
            scores = tf.where(known[:, None], scores, popular)
        if self.exclude_seen:
            rows = self._seen_rows(users)
            index = tf.stack([rows.value_rowids(), rows.flat_values], axis=1)
            mask = tf.scatter_nd(
                index, tf.ones_like(rows.flat_values, tf.bool), tf.shape(scores, tf.int64)
            )
            scores = tf.where(mask, tf.constant(-np.inf, tf.float32), scores)
        if self.ranker is not None and rerank:
            scores = self._rerank_all(users, scores, now)
        return scores

    def _ages(self, positions: tf.Tensor, now: tf.Tensor | None) -> tf.Tensor | None:
        """Ages [B, M] of candidates `positions` [B, M] at times `now` [B], log(1 + days).

        None without the freshness term. `now` None: the clock's time (a request
        served now).
        """
        if not self.freshness:
            return None
        if now is None:
            now = tf.fill(tf.shape(positions)[:1], tf.timestamp())
        return item_ages(tf.gather(self.item_first_seen, positions), now)

    def _ranker_scores(self, users: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
        """The ranker's score of candidates `positions` [B, M] for users [B]: [B, M]."""
        queries = self.ranker.query_vectors(self._user_features(users))
        width = tf.shape(positions)[1]
        flat = tf.reshape(tf.tile(queries[:, None, :], [1, width, 1]), [-1, tf.shape(queries)[1]])
        candidates = tf.gather(self.rank_candidates, tf.reshape(positions, [-1]))
        return tf.reshape(self.ranker.score_pairs(flat, candidates), tf.shape(positions))

    def _rerank(
        self,
        users: tf.Tensor,
        scores: tf.Tensor,
        positions: tf.Tensor,
        now: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """The ranker's order of each row's `rerank_depth` best retrieved candidates.

        Args:
          users: User indices [B].
          scores: Retrieval scores [B, M] of candidates `positions` [B, M]
            (M >= rerank_depth); -inf marks an excluded one.
          now: Request times [B] (seconds) the candidates' ages are taken at;
            None: the clock's.

        Returns:
          (scores, positions) [B, rerank_depth]: the ranker's output plus the
          retrieval score standardised over the row's candidates (what it was
          trained to correct, modules/two_stage.py); -inf kept for excluded
          candidates; in no particular order.
        """
        top = tf.math.top_k(scores, k=self.rerank_depth)
        chosen = tf.gather(positions, top.indices, batch_dims=1)
        ranked = self.ranker.rerank_scores(
            self._ranker_scores(users, chosen),
            _standardize(top.values, top.values),
            self._ages(chosen, now),
        )
        excluded = tf.math.is_inf(top.values)
        return tf.where(excluded, tf.constant(-np.inf, tf.float32), ranked), chosen

    @staticmethod
    def _every_position(scores: tf.Tensor) -> tf.Tensor:
        """Candidate positions [B, N] of full score rows [B, N]."""
        count = tf.shape(scores, tf.int64)[1]
        return tf.tile(tf.range(count)[None, :], [tf.shape(scores)[0], 1])

    def _rerank_all(
        self, users: tf.Tensor, scores: tf.Tensor, now: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Every candidate's score [B, N] in the two-stage order: the reranked ones first.

        The ranker's scores of the retrieved candidates are shifted above every
        retrieval score of their row, so a full ranking (the Evaluator's, the
        tuner's) sees exactly the served order; the others keep their retrieval
        order below them.
        """
        ranked, chosen = self._rerank(users, scores, self._every_position(scores), now)
        finite = tf.math.is_finite(scores)
        top = tf.reduce_max(tf.where(finite, scores, -np.inf), axis=1)
        low = tf.reduce_min(tf.where(tf.math.is_finite(ranked), ranked, np.inf), axis=1)
        shift = tf.where(tf.math.is_finite(top) & tf.math.is_finite(low), top - low + 1.0, 0.0)
        rows = tf.tile(tf.range(tf.shape(scores, tf.int64)[0])[:, None], [1, self.rerank_depth])
        index = tf.stack([tf.reshape(rows, [-1]), tf.reshape(chosen, [-1])], axis=1)
        return tf.tensor_scatter_nd_update(scores, index, tf.reshape(ranked + shift[:, None], [-1]))

    def _seen_rows(self, users: tf.Tensor) -> tf.RaggedTensor:
        seen = tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_row_splits)
        return tf.gather(seen, users)

    def _recommend_ann(self, users: tf.Tensor, now: tf.Tensor | None) -> dict[str, tf.Tensor]:
        """Top-K from the ScaNN index: fetch enough to drop seen items, then cut."""
        queries, known = self._queries(users)
        scores, positions = self._ann(self.index, queries)
        scores = scores + self.offset
        if self.exclude_seen:
            seen = self._seen_rows(users).to_tensor(default_value=-1)
            hit = tf.reduce_any(tf.equal(positions[:, :, None], seen[:, None, :]), axis=2)
            scores = tf.where(hit, tf.constant(-np.inf, tf.float32), scores)
        if self.ranker is not None:
            scores, positions = self._rerank(users, scores, positions, now)
        top = tf.math.top_k(scores, k=self.top_k)
        chosen = tf.gather(positions, top.indices, batch_dims=1)
        if self.fallback is None:
            popular = tf.math.top_k(self.popularity, k=self.top_k)
            popular_positions = tf.cast(popular.indices, tf.int64)[None, :]
            chosen = tf.where(known[:, None], chosen, popular_positions)
            values = tf.where(known[:, None], top.values, popular.values[None, :])
        else:
            values = top.values
        return {"item_ids": tf.gather(self.item_ids, chosen), "scores": values}

    def _ann(self, index, queries: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(scores, positions) [B, fetch_k] from `index`; an empty batch never reaches ScaNN."""

        def search():
            scores, positions = index(queries, k=self.fetch_k)
            return (
                tf.ensure_shape(scores, [None, self.fetch_k]),
                tf.ensure_shape(tf.cast(positions, tf.int64), [None, self.fetch_k]),
            )

        def empty():
            return tf.zeros([0, self.fetch_k], tf.float32), tf.zeros([0, self.fetch_k], tf.int64)

        return tf.cond(tf.shape(queries)[0] > 0, search, empty)

    def _search_ann(self, index, queries: tf.Tensor, skip: tf.Tensor | None = None) -> dict:
        scores, positions = self._ann(index, queries)
        if skip is not None:
            scores = tf.where(tf.equal(positions, skip[:, None]), -np.inf, scores)
        top = tf.math.top_k(scores, k=self.top_k)
        chosen = tf.gather(positions, top.indices, batch_dims=1)
        return {"item_ids": tf.gather(self.item_ids, chosen), "scores": top.values}

    def _score_pairs(self, users: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
        in_catalog = positions >= 0
        safe = tf.maximum(positions, 0)
        if self.ranker is not None:
            # The pair's retrieval score, standardised over the user's candidates.
            retrieval = self.score_users(users, rerank=False)
            top = tf.math.top_k(retrieval, k=self.rerank_depth).values
            pair = tf.gather(retrieval, safe, batch_dims=1)[:, None]
            ranked = self.ranker.rerank_scores(
                self._ranker_scores(users, safe[:, None]),
                _standardize(pair, top),
                self._ages(safe[:, None], None),
            )
            return tf.where(in_catalog, ranked[:, 0], tf.fill(tf.shape(safe), -np.inf))
        if self.from_history:
            # Each distinct user's row once (a batch of pairs repeats its users).
            distinct, row = tf.unique(users)
            full, known = self._model_scores(distinct)
            scores = tf.gather_nd(full, tf.stack([tf.cast(row, tf.int64), safe], axis=1))
            known = tf.gather(known, row)
        else:
            queries, known = self._queries(users)
            scores = self.model.score_pairs(queries, tf.gather(self.candidates, safe))
        if self.fallback is None:
            scores = tf.where(known, scores, tf.gather(self.popularity, safe))
            unknown_item = tf.constant(-np.inf, tf.float32)
        else:
            unknown_item = self.offset
        return tf.where(in_catalog, scores, tf.fill(tf.shape(scores), unknown_item))

    def _top(self, scores: tf.Tensor) -> dict[str, tf.Tensor]:
        top = tf.math.top_k(scores, k=self.top_k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    def _search(self, queries: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-K content candidates for query vectors of the content model."""
        if self.index is not None:
            return self._search_ann(self.search_index, queries)
        return self._top(tf.matmul(queries, self.content_candidates, transpose_b=True))

    # Signatures.

    @_signature(tf.TensorSpec([None], tf.string, name="user_id"))
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

    @_signature(
        tf.TensorSpec([None], tf.string, name="user_id"),
        tf.TensorSpec([None], tf.string, name="item_id"),
    )
    def predict(self, user_id: tf.Tensor, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        users = self._users(self._transform({keys.USER_ID: user_id}))
        return {"scores": self._score_pairs(users, self._positions(item_id))}

    def _item_rows(self, positions: tf.Tensor) -> tf.Tensor:
        """A history-scored model's item-item rows of candidates `positions` [B], over the
        candidates [B, N]: what having the item adds to every other item."""
        vocabulary = tf.gather(self.candidate_rows, positions)
        return self._over_candidates(self.model.item_rows(vocabulary))

    @_signature(tf.TensorSpec([None], tf.string, name="item_id"))
    def similar_items(self, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        """The items most like each item; an item the catalog lacks gets the most popular
        items (scored log(1 + count), another scale) and `known` false, as `recommend`
        answers an unknown user.

        With a content model beside the model, the content vectors answer, except
        for items with interactions when the model's own item-item similarity
        measured better (`similar_from_model`): cold items have only content.
        """
        positions = self._positions(item_id)
        known = positions >= 0
        safe = tf.maximum(positions, 0)
        found = self._similar(safe)
        if self.similar_from_model:
            by_model = self._model_similar(safe)
            use = tf.gather(self.warm, safe)[:, None]
            found = {key: tf.where(use, by_model[key], found[key]) for key in found}
        popular = tf.math.top_k(self.popularity, k=self.top_k)
        rows = tf.shape(positions)[0]
        fallback_ids = tf.tile(tf.gather(self.item_ids, popular.indices)[None, :], [rows, 1])
        fallback_scores = tf.tile(popular.values[None, :], [rows, 1])
        return {
            "item_ids": tf.where(known[:, None], found["item_ids"], fallback_ids),
            "scores": tf.where(known[:, None], found["scores"], fallback_scores),
            "known": known,
        }

    def _similar(self, safe: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-K other candidates by the content vectors' cosine (by the model's item-item
        rows when it has no vectors) for candidate positions `safe` [B]."""
        if self.content_candidates is None:
            return self._top(_without_itself(self._item_rows(safe), safe))
        vectors = (
            tf.gather(self.content_candidates, safe) / tf.gather(self.content_norms, safe)[:, None]
        )
        if self.index is not None:
            return self._search_ann(self.unit_index, vectors, skip=safe)
        scores = tf.matmul(vectors, self.content_candidates, transpose_b=True) / self.content_norms
        return self._top(_without_itself(scores, safe))

    def _model_similar(self, safe: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-K other candidates by the recommend model's own item-item similarity: its
        item-item rows (EASE), else the cosine of its candidate vectors. Exact."""
        if self.from_history:
            scores = self._item_rows(safe)
        else:
            vectors = tf.gather(self.candidates, safe) / tf.gather(self.model_norms, safe)[:, None]
            scores = tf.matmul(vectors, self.candidates, transpose_b=True) / self.model_norms
        return self._top(_without_itself(scores, safe))

    @_signature(tf.TensorSpec([None], tf.string, name="item_id"))
    def embed_items(self, item_id: tf.Tensor) -> dict[str, tf.Tensor]:
        positions = self._positions(item_id)
        if self.content_candidates is None:
            vectors = self._item_rows(tf.maximum(positions, 0))
        else:
            vectors = tf.gather(self.content_candidates, tf.maximum(positions, 0))
        return {"embeddings": tf.where((positions >= 0)[:, None], vectors, tf.zeros_like(vectors))}

    def _search_text(self, query: tf.Tensor) -> dict[str, tf.Tensor]:
        """The items nearest each query, and `known_tokens`: how many of the query's words
        the model learnt. With 0, nothing of the query was matched: the items are the
        nearest to an empty query, not matches (a client should say so)."""
        transformed = self._transform({name: query for name in self._text_features})
        found = self._search(self.content_model.text_query_vectors(transformed))
        ids = tf.cast(transformed[self._text_features[0]], tf.int64)
        known = (ids > 0) & (ids <= self.text_vocab_size)
        return {**found, "known_tokens": tf.reduce_sum(tf.cast(known, tf.int32), axis=1)}

    def _search_image(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        pixels = self._transform({keys.IMAGE: image})[keys.IMAGE]
        return self._search(self.content_model.image_query_vectors(pixels))

    @_signature(tf.TensorSpec([None], tf.string, name="examples"))
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
        rank = _rank_of(scores, safe, in_catalog)
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
            outputs[RETRIEVAL_RANK] = tf.cast(_rank_of(retrieval, safe, in_catalog), tf.float32)
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


def _without_itself(scores: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
    """`scores` [B, N] with each row's own candidate (`positions` [B]) at -inf."""
    itself = tf.one_hot(positions, tf.shape(scores)[1], on_value=True, off_value=False)
    return tf.where(itself, tf.constant(-np.inf, tf.float32), scores)


def item_ages(first_seen: tf.Tensor, now: tf.Tensor) -> tf.Tensor:
    """log(1 + days) from first appearances [B, M] to times `now` [B] (seconds), 0 if later.

    The graph twin of `two_stage.item_ages`.
    """
    first_seen = tf.cast(first_seen, tf.float64)
    days = tf.maximum(tf.cast(now, tf.float64)[:, None] - first_seen, 0.0) / DAY_SECONDS
    return tf.cast(tf.math.log1p(days), tf.float32)


def _standardize(values: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """`values` [B, M] as z-values over each row's finite `reference` [B, D], clipped.

    The graph twin of `two_stage.standardize`: an excluded (-inf) value gets the low end.
    """
    finite = tf.math.is_finite(reference)
    count = tf.reduce_sum(tf.cast(finite, tf.float32), axis=1, keepdims=True)
    kept = tf.where(finite, reference, 0.0)
    mean = tf.reduce_sum(kept, axis=1, keepdims=True) / tf.maximum(count, 1.0)
    spread = tf.where(finite, tf.square(reference - mean), 0.0)
    std = tf.sqrt(tf.reduce_sum(spread, axis=1, keepdims=True) / tf.maximum(count, 1.0))
    std = tf.where(count > 1.0, tf.maximum(std, 1e-6), 1.0)
    z = tf.where(tf.math.is_finite(values), (values - mean) / std, -SCORE_CLIP)
    return tf.clip_by_value(z, -SCORE_CLIP, SCORE_CLIP)


def _rank_of(scores: tf.Tensor, positions: tf.Tensor, in_catalog: tf.Tensor) -> tf.Tensor:
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


def export(module: RecommenderModule, path: str) -> None:
    """Saves the module with its signatures."""
    tf.saved_model.save(module, path, signatures=module.signatures())


# Every known user's `recommend` answer is written beside the graph at export, so
# that the CLI answers without loading TensorFlow (modules/answers.py reads it).
ANSWERS_MAX_USERS = 200_000
# An id no vocabulary holds: its answer is the bundle's fallback for unknown users.
UNKNOWN_USER = "\x00unknown user"


def write_answers(module: RecommenderModule, users: list[str], path: str) -> bool:
    """Writes `recommend`'s answer for every user, and for an unknown one, under `path`.

    The answers are the signature's own outputs (items and scores as served);
    above ANSWERS_MAX_USERS users nothing is written and callers use the model.

    Returns:
      Whether the answers were written.
    """
    if len(users) > ANSWERS_MAX_USERS:
        return False
    items, scores = [], []
    # A ranker scores batch x rerank_depth pairs at once: smaller batches keep that bounded.
    batch = _EXPORT_BATCH if module.ranker is None else max(1, 2**16 // module.rerank_depth)
    for start in range(0, len(users), batch):
        out = module.recommend(tf.constant(users[start : start + batch]))
        items.append(out["item_ids"].numpy())
        scores.append(out["scores"].numpy())
    fallback = module.recommend(tf.constant([UNKNOWN_USER]))
    width = fallback["item_ids"].shape[1]
    answered = np.concatenate(items) if items else np.zeros((0, width), dtype=object)
    catalog, index = np.unique(
        np.concatenate([answered.ravel(), fallback["item_ids"].numpy().ravel()]),
        return_inverse=True,
    )
    index = index.astype(np.int32)
    buffer = io.BytesIO()  # zipfile seeks, which a GFile does not
    np.savez_compressed(
        buffer,
        users=np.array(users, dtype=object).astype("U"),
        items=np.array([v.decode() for v in catalog]).astype("U"),
        answers=index[: answered.size].reshape(answered.shape),
        scores=np.concatenate(scores) if scores else np.zeros((0, width), np.float32),
        fallback=index[answered.size :],
        fallback_scores=fallback["scores"].numpy()[0],
    )
    target = os.path.join(path, answers.ANSWERS)
    tf.io.gfile.makedirs(os.path.dirname(target))
    with tf.io.gfile.GFile(target, "wb") as f:
        f.write(buffer.getvalue())
    return True


def export_bundle(
    model: tf.keras.Model,
    catalog: Catalog,
    tft_output: tft.TFTransformOutput,
    path: str,
    top_k: int,
    exclude_seen: bool,
    index_params: IndexParams | None = None,
    content: tf.keras.Model | None = None,
    ranker: tf.keras.Model | None = None,
    rerank_depth: int = Model.rerank_depth,
    similar_from_model: bool = False,
) -> None:
    """The exact bundle at `path`, and with `index_params` its ScaNN companion inside it.

    `content`: a model that answers the content signatures; `ranker`: the
    ranking stage over `rerank_depth` retrieved candidates; `similar_from_model`:
    warm items' similar_items from `model` (see RecommenderModule).
    Every known user's `recommend` answer is written too (`write_answers`), from
    the module `bundle.load` serves by default: the companion when there is one.
    """
    stages = {
        "content": content,
        "ranker": ranker,
        "rerank_depth": rerank_depth,
        "similar_from_model": similar_from_model,
    }
    exact = RecommenderModule(model, catalog, tft_output, top_k, exclude_seen, **stages)
    export(exact, path)
    served = exact
    if index_params is not None:
        served = RecommenderModule(
            model, catalog, tft_output, top_k, exclude_seen, index_params, **stages
        )
        export(served, companion_path(path))
    users = [v.decode() for v in tft_output.vocabulary_by_name(keys.USER_ID)]
    write_answers(served, users, path)
