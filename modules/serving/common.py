"""What every part of the serving module shares: the signature decorator, candidate vectors."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from recsearch.modules.training_data import Catalog

EXPORT_BATCH = 4096


def candidate_matrix(model: tf.keras.Model, catalog: Catalog) -> np.ndarray:
    """Candidate vectors of every catalog item, computed in batches. [N, D]."""
    chunks = []
    for start in range(0, catalog.num_candidates, EXPORT_BATCH):
        positions = np.arange(start, min(start + EXPORT_BATCH, catalog.num_candidates))
        features = {k: tf.constant(v) for k, v in catalog.candidate_features(positions).items()}
        chunks.append(model.candidate_vectors(features).numpy())
    return np.concatenate(chunks, axis=0)


def signature(*specs: tf.TensorSpec):
    """A serving signature's tf.function, traced without autograph.

    The signatures branch only in Python, on the module's attributes (`if
    self.index is not None`), never on tensors; autograph's conversion of every
    function they call was most of each export's time.
    """
    return tf.function(input_signature=list(specs), autograph=False)


def top_of(scores: tf.Tensor, item_ids: tf.Variable, k: int) -> dict[str, tf.Tensor]:
    """The `k` best candidates of each row of `scores` [B, N]: their ids and scores."""
    top = tf.math.top_k(scores, k=k)
    return {"item_ids": tf.gather(item_ids, top.indices), "scores": top.values}


def without_itself(scores: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
    """`scores` [B, N] with each row's own candidate (`positions` [B]) at -inf."""
    itself = tf.one_hot(positions, tf.shape(scores)[1], on_value=True, off_value=False)
    return tf.where(itself, tf.constant(-np.inf, tf.float32), scores)
