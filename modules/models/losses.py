"""Training losses, as functions of scores: in-batch softmax for retrieval, squared error."""

from __future__ import annotations

import tensorflow as tf

# Large negative logit for masked candidates (finite, so softmax stays defined).
MASKED_LOGIT = -1e9


def in_batch_softmax(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    candidate_ids: tf.Tensor,
    log_q: tf.Tensor | None = None,
    temperature: float = 1.0,
) -> tf.Tensor:
    """Mean softmax cross-entropy of each query's own candidate against the batch.

    Row i of `queries` interacted with row i of `candidates`; the other rows
    are its negatives. Rows holding the same item as the positive are masked
    ("accidental hits"), and `log_q`, the log sampling probability of each
    candidate, is subtracted from its logit (logQ correction).

    Args:
      queries: [B, D] query vectors.
      candidates: [B, D] candidate vectors.
      candidate_ids: [B] item index of each candidate.
      log_q: Optional [B] log sampling probability of each candidate.
      temperature: Logits are scores divided by this.

    Returns:
      Scalar loss.
    """
    logits = tf.matmul(queries, candidates, transpose_b=True) / temperature
    if log_q is not None:
        logits -= log_q[None, :]
    batch = tf.shape(logits)[0]
    diagonal = tf.eye(batch, dtype=tf.bool)
    same_item = tf.equal(candidate_ids[:, None], candidate_ids[None, :])
    logits = tf.where(same_item & ~diagonal, tf.constant(MASKED_LOGIT, logits.dtype), logits)
    labels = tf.range(batch)
    per_query = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_mean(per_query)


def squared_error(labels: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
    """Mean squared error."""
    return tf.reduce_mean(tf.square(tf.cast(labels, tf.float32) - predictions))
