"""The ANN companion: recommend, similar items and search answered from ScaNN indexes.

An exported bundle with `serving.index` scann (or auto on a large catalog)
holds a second module, built with `index_params`, beside the exact one
(`bundle.companion_path`): it fetches enough neighbours to drop seen items,
then cuts to K. The exact path stays for serving_default and predict.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from recsearch.modules.ann import IndexParams, build_index
from recsearch.modules.training_data import Catalog


class AnnCompanion:
    """The approximate answers of a `RecommenderModule` (a mixin: its state lives on it)."""

    def _init_indexes(
        self,
        catalog: Catalog,
        params: IndexParams | None,
        vectors: np.ndarray | None,
        content_vectors: np.ndarray | None,
        separate_content: bool,
    ) -> None:
        """The recommend, search and similar-items indexes (none without `params`)."""
        self.index = None
        if params is None:
            return
        seen_counts = np.diff(catalog.seen_row_splits)
        most_seen = int(seen_counts.max()) if len(seen_counts) and self.exclude_seen else 0
        wanted = self.top_k if self.ranker is None else max(self.top_k, self.rerank_depth)
        self.fetch_k = min(catalog.num_candidates, wanted + most_seen + 1)
        self.index = build_index(vectors, self.fetch_k, params)
        self.search_index = (
            build_index(content_vectors, self.fetch_k, params) if separate_content else self.index
        )
        norms = np.maximum(np.linalg.norm(content_vectors, axis=1, keepdims=True), 1e-12)
        self.unit_index = build_index(content_vectors / norms, self.fetch_k, params)

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
