"""The ranking stage of a two-stage bundle: the ranker reorders the best retrieved candidates.

The ranker (a pair-scoring network, modules/two_stage.py) reads each
candidate's retrieval score standardised over the user's candidates, and with
the freshness term each candidate's age at the request's time.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from recsearch.modules.serving.common import candidate_matrix, signature
from recsearch.modules.training_data import Catalog

# The ranking stage's input: retrieval scores standardised over the user's
# candidates, clipped to this (an excluded item gets the low end).
SCORE_CLIP = 6.0
DAY_SECONDS = 86400.0


class Rerank:
    """The ranking stage of a `RecommenderModule` (a mixin: its state lives on the module)."""

    def _init_rerank(
        self, ranker: tf.keras.Model | None, catalog: Catalog, rerank_depth: int
    ) -> None:
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
            self.recommend_at = signature(
                tf.TensorSpec([None], tf.string, name="user_id"),
                tf.TensorSpec([None], tf.int64, name="request_time"),
            )(self._recommend_at)

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
            standardize(top.values, top.values),
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


def item_ages(first_seen: tf.Tensor, now: tf.Tensor) -> tf.Tensor:
    """log(1 + days) from first appearances [B, M] to times `now` [B] (seconds), 0 if later.

    The graph twin of `two_stage.item_ages`.
    """
    first_seen = tf.cast(first_seen, tf.float64)
    days = tf.maximum(tf.cast(now, tf.float64)[:, None] - first_seen, 0.0) / DAY_SECONDS
    return tf.cast(tf.math.log1p(days), tf.float32)


def standardize(values: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
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
