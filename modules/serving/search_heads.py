"""The item-side heads: similar items, item embeddings, text and image search.

They read the content model's candidate vectors when a content model sits
beside the recommend model (the two-tower model, for items with text or
images), else the recommend model's own; similar items of an item with
interactions may come from the model's own item-item similarity
(`similar_from_model`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch.modules.serving.common import candidate_matrix, signature, without_itself
from recsearch.modules.training_data import Catalog


class SearchHeads:
    """The item-side signatures of a `RecommenderModule` (a mixin: its state lives on it)."""

    def _init_heads(
        self,
        model: tf.keras.Model,
        content: tf.keras.Model | None,
        catalog: Catalog,
        tft_output: tft.TFTransformOutput,
        vectors: np.ndarray | None,
        similar_from_model: bool,
    ) -> np.ndarray | None:
        """Stores the content side's vectors and adds the search signatures the model has.

        Returns the content vectors (None for a history-scored model alone).
        """
        self.content_model = content if content is not None else model
        self._text_features = [
            n for n in getattr(getattr(self.content_model, "item_tower", None), "text", []) or []
        ]
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
            norms = np.maximum(np.linalg.norm(content_vectors, axis=1), 1e-12)
            self.content_norms = tf.Variable(norms.astype(np.float32), trainable=False)
        self.similar_from_model = bool(similar_from_model and content is not None)
        if self.similar_from_model:
            # Items with interactions in training: the model knows them beyond content.
            self.warm = tf.Variable(np.asarray(catalog.item_counts) > 0, trainable=False)
            if not self.from_history:
                model_norms = np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
                self.model_norms = tf.Variable(model_norms.astype(np.float32), trainable=False)
        # Search signatures exist only for models that encode text or images;
        # as attributes, not methods, so saving does not trace them otherwise.
        if getattr(self.content_model, "searchable_by_text", False) and self._text_features:
            # Token ids 1..size are words of the vocabulary; above it, hashed unknown words.
            self.text_vocab_size = tf.constant(
                tft_output.vocabulary_size_by_name(keys.TEXT_VOCAB), tf.int64
            )
            self.search_text = signature(tf.TensorSpec([None], tf.string, name="query"))(
                self._search_text
            )
        if getattr(self.content_model, "searchable_by_image", False) and (
            keys.IMAGE in self._raw_spec
        ):
            self.search_image = signature(tf.TensorSpec([None], tf.string, name="image"))(
                self._search_image
            )
        return content_vectors

    def _search(self, queries: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-K content candidates for query vectors of the content model."""
        if self.index is not None:
            return self._search_ann(self.search_index, queries)
        return self._top(tf.matmul(queries, self.content_candidates, transpose_b=True))

    @signature(tf.TensorSpec([None], tf.string, name="item_id"))
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
            return self._top(without_itself(self._item_rows(safe), safe))
        vectors = (
            tf.gather(self.content_candidates, safe) / tf.gather(self.content_norms, safe)[:, None]
        )
        if self.index is not None:
            return self._search_ann(self.unit_index, vectors, skip=safe)
        scores = tf.matmul(vectors, self.content_candidates, transpose_b=True) / self.content_norms
        return self._top(without_itself(scores, safe))

    def _model_similar(self, safe: tf.Tensor) -> dict[str, tf.Tensor]:
        """Top-K other candidates by the recommend model's own item-item similarity: its
        item-item rows (EASE), else the cosine of its candidate vectors. Exact."""
        if self.from_history:
            scores = self._item_rows(safe)
        else:
            vectors = tf.gather(self.candidates, safe) / tf.gather(self.model_norms, safe)[:, None]
            scores = tf.matmul(vectors, self.candidates, transpose_b=True) / self.model_norms
        return self._top(without_itself(scores, safe))

    @signature(tf.TensorSpec([None], tf.string, name="item_id"))
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
