"""RecommenderModel: a Keras model trained through `compute_loss`, the TFRS way.

The train and test steps are excluded from AutoGraph's source conversion:
nothing in them branches on tensor values, and converting the Keras call tree
behind them costs more than ten seconds on the first step of every run.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf


def rows_in_vocabulary(table: tf.Tensor, items: tf.Tensor, vocab_size: int) -> tf.Tensor:
    """Rows of `table` [V, D] for item indices [B]; zeros for indices outside the vocabulary."""
    items = tf.cast(items, tf.int64)
    known = items < vocab_size
    rows = tf.gather(table, tf.where(known, items, 0))
    return tf.where(known[:, None], rows, tf.zeros_like(rows))


_LOSS_TERMS = ("loss", "regularization_loss", "total_loss")


class RecommenderModel(tf.keras.Model):
    """A model that scores a user and an item from a query and a candidate vector.

    Subclasses implement `query_vectors`, `candidate_vectors` and
    `compute_loss(features, training)`; metrics only in eval. They override
    `score_offset` (default 0) and `fallback_query`, the query of unknown
    users (default None: serve them by popularity), where they need to.

    The score is query . candidate + offset (`inner_product`), which an ANN
    index can search. Models whose score is a network over the pair (NeuMF,
    DeepFM, DCN) override `score_pairs` and `score_matrix` and set
    `inner_product = False`; serving then scores every candidate exactly.
    """

    inner_product = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each loss term's mean over the epoch's rows. Keras reports what a step returns
        # and resets the model's metrics each epoch: returning the bare batch losses
        # would report the epoch's last batch alone (a remainder of a few rows, whose
        # in-batch softmax has few negatives), and early stopping would watch it.
        self.loss_means = [tf.keras.metrics.Mean(name=name) for name in _LOSS_TERMS]

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        raise NotImplementedError("subclasses implement query_vectors")

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        raise NotImplementedError("subclasses implement candidate_vectors")

    def score_offset(self) -> float | tf.Tensor:
        return 0.0

    def fallback_query(self) -> tf.Tensor | None:
        return None

    def score_pairs(self, queries: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
        """Score of each row's pair: queries [B, Dq], candidates [B, Dc] -> [B]."""
        return tf.reduce_sum(queries * candidates, axis=1) + self.score_offset()

    def score_matrix(self, queries: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
        """Score of every query against every candidate: [B, Dq], [N, Dc] -> [B, N]."""
        return tf.matmul(queries, candidates, transpose_b=True) + self.score_offset()

    def call(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Scores of the (user, item) pairs of a batch [B]."""
        return self.score_pairs(self.query_vectors(features), self.candidate_vectors(features))

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        raise NotImplementedError("subclasses implement compute_loss")

    def _loss_terms(
        self, features: Mapping[str, tf.Tensor], training: bool
    ) -> dict[str, tf.Tensor]:
        loss = self.compute_loss(features, training=training)
        regularization = tf.add_n([tf.constant(0.0)] + [tf.reduce_sum(x) for x in self.losses])
        return {
            "loss": loss,
            "regularization_loss": regularization,
            "total_loss": loss + regularization,
        }

    def _averaged(
        self, features: Mapping[str, tf.Tensor], losses: Mapping[str, tf.Tensor]
    ) -> dict[str, tf.Tensor]:
        """The loss terms' means so far this epoch (or evaluation), weighted by rows."""
        rows = tf.cast(tf.shape(tf.nest.flatten(features)[0])[0], tf.float32)
        for mean in self.loss_means:
            mean.update_state(losses[mean.name], sample_weight=rows)
        return {mean.name: mean.result() for mean in self.loss_means}

    @tf.autograph.experimental.do_not_convert
    def train_step(self, features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            losses = self._loss_terms(features, training=True)
            # Replicas' gradients are summed; scaling makes the sum their mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = losses["total_loss"] / float(replicas)
        gradients = tape.gradient(scaled, self.trainable_variables)
        # A weight this loss does not use (a pair network's two-stage gate) has none.
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(gradients, self.trainable_variables) if g is not None]
        )
        return self._averaged(features, losses)

    @tf.autograph.experimental.do_not_convert
    def test_step(self, features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return self._averaged(features, self._loss_terms(features, training=False))
