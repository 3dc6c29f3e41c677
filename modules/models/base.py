"""RecommenderModel: a Keras model trained through `compute_loss`, the TFRS way.

The train and test steps are excluded from AutoGraph's source conversion:
nothing in them branches on tensor values, and converting the Keras call tree
behind them costs more than ten seconds on the first step of every run.
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf


class RecommenderModel(tf.keras.Model):
    """Subclasses implement `compute_loss(features, training)`; metrics only in eval."""

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

    @tf.autograph.experimental.do_not_convert
    def train_step(self, features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            losses = self._loss_terms(features, training=True)
            # Replicas' gradients are summed; scaling makes the sum their mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = losses["total_loss"] / float(replicas)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return losses

    @tf.autograph.experimental.do_not_convert
    def test_step(self, features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return self._loss_terms(features, training=False)
