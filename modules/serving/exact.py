"""Exact retrieval: every candidate scored for each user, seen items excluded, top-K.

The scoring every signature stands on: a model's query vector against the
stored candidate matrix (or, for a model that scores from a user's history,
its sparse item-item rows), the fallback for unknown users, and pairs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.modules.serving.common import candidate_matrix, top_of
from recsearch.modules.serving.rerank import standardize
from recsearch.modules.training_data import Catalog


class ExactRetrieval:
    """The exact scoring of a `RecommenderModule` (a mixin: its state lives on the module)."""

    def _init_exact(self, model: tf.keras.Model, catalog: Catalog) -> np.ndarray | None:
        """Stores what exact scoring reads; returns the candidate vectors (None from history)."""
        # A model that scores from sparse item-item rows over the user's history (EASE)
        # is asked for whole score rows: no candidate matrix is stored for it.
        self.from_history = bool(getattr(model, "scores_from_history", False))
        vectors = None
        if self.from_history:
            vocab = catalog.item_index[np.arange(catalog.num_candidates)].astype(np.int64)
            # Each candidate's vocabulary row; items outside it read the zero column V.
            rows = np.where(vocab < catalog.item_vocab_size, vocab, catalog.item_vocab_size)
            self.candidate_rows = tf.Variable(rows, trainable=False)
        else:
            vectors = candidate_matrix(model, catalog)
            self.candidates = tf.Variable(vectors, trainable=False)
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
        return vectors

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

    def _seen_rows(self, users: tf.Tensor) -> tf.RaggedTensor:
        seen = tf.RaggedTensor.from_row_splits(self.seen_items, self.seen_row_splits)
        return tf.gather(seen, users)

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
                standardize(pair, top),
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
        return top_of(scores, self.item_ids, self.top_k)

    def _item_rows(self, positions: tf.Tensor) -> tf.Tensor:
        """A history-scored model's item-item rows of candidates `positions` [B], over the
        candidates [B, N]: what having the item adds to every other item."""
        vocabulary = tf.gather(self.candidate_rows, positions)
        return self._over_candidates(self.model.item_rows(vocabulary))
