"""Training losses over in-batch scores: pointwise, pairwise and listwise.

Row i of the queries interacted with row i of the candidates; the other rows
of the batch are its negatives. `in_batch_logits` builds the [B, B] score
matrix once (temperature, logQ correction, accidental hits masked) and every
ranking loss reads it. Models that score pairs rather than inner products
build a [B, 1 + S] matrix of sampled negatives instead (`sampled_logits`),
the positive in column 0; `labels` names the positive's column (default: the
diagonal).

  softmax      listwise: cross-entropy of the positive against the batch
  approx_ndcg  listwise: 1 - NDCG of the positive under a smooth rank
  bpr          pairwise: -log sigmoid(s_pos - s_neg), over every negative
  triplet      pairwise: max(0, margin - s_pos + s_neg), over every negative
  bce          pointwise: the positive labelled 1, every negative 0

Every loss is a mean over the batch's positives; with `weights` (one per
positive: the interaction's weight, `interactions.weight`) a weighted mean,
so weights that are all 1 give the plain mean.
"""

from __future__ import annotations

import tensorflow as tf

# Large negative logit for masked candidates (finite, so softmax stays defined).
MASKED_LOGIT = -1e9
RANKING_LOSSES = ("softmax", "approx_ndcg", "bpr", "triplet", "bce")


def in_batch_logits(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    candidate_ids: tf.Tensor,
    log_q: tf.Tensor | None = None,
    temperature: float = 1.0,
    extra: tuple[tf.Tensor, tf.Tensor, tf.Tensor | None] | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Scores [B, B (+ M)] and a mask of the negatives that count, same shape.

    The mask drops the diagonal (the positives) and "accidental hits": other
    rows holding the same item as a query's positive.

    Args:
      queries, candidates: [B, D] each; row i of both is a positive pair.
      candidate_ids: Item index of each candidate [B].
      log_q: Log sampling probability of each candidate [B], or None.
      temperature: Divides the scores.
      extra: Mixed negatives (Yang et al. 2020): (vectors [M, D], item
        indices [M], log sampling probabilities [M] or None) of items drawn
        from the whole catalog, appended as M more columns.
    """
    ids = candidate_ids
    logits = tf.matmul(queries, candidates, transpose_b=True) / temperature
    if log_q is not None:
        logits -= log_q[None, :]
    if extra is not None:
        vectors, extra_ids, extra_log_q = extra
        more = tf.matmul(queries, vectors, transpose_b=True) / temperature
        if extra_log_q is not None:
            more -= extra_log_q[None, :]
        logits = tf.concat([logits, more], axis=1)
        ids = tf.concat([candidate_ids, tf.cast(extra_ids, candidate_ids.dtype)], axis=0)
    batch, width = tf.shape(logits)[0], tf.shape(logits)[1]
    diagonal = tf.eye(batch, width, dtype=tf.bool)
    same_item = tf.equal(candidate_ids[:, None], ids[None, :])
    negatives = ~same_item
    logits = tf.where(same_item & ~diagonal, tf.constant(MASKED_LOGIT, logits.dtype), logits)
    return logits, negatives


def sampled_logits(
    positive: tf.Tensor,
    negative: tf.Tensor,
    positive_ids: tf.Tensor,
    negative_ids: tf.Tensor,
    log_q: tf.Tensor | None = None,
    temperature: float = 1.0,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Logits [B, 1 + S] (positive first), the negatives' mask and the labels (all 0).

    Args:
      positive: Score of each positive pair [B].
      negative: Scores of S sampled negatives per row [B, S].
      positive_ids, negative_ids: Their item indices [B] and [B, S]; a
        negative that is the row's positive item is masked (an accidental hit).
      log_q: Log sampling probability of each negative [B, S], or None.
      temperature: Divides the scores.
    """
    negative = negative / temperature
    if log_q is not None:
        negative -= log_q
    hits = tf.equal(negative_ids, positive_ids[:, None])
    negative = tf.where(hits, tf.constant(MASKED_LOGIT, negative.dtype), negative)
    logits = tf.concat([positive[:, None] / temperature, negative], axis=1)
    mask = tf.concat([tf.zeros_like(hits[:, :1]), ~hits], axis=1)
    return logits, mask, tf.zeros(tf.shape(positive), tf.int32)


def _labels(logits: tf.Tensor, labels: tf.Tensor | None) -> tf.Tensor:
    return tf.range(tf.shape(logits)[0]) if labels is None else labels


def _positives(logits: tf.Tensor, labels: tf.Tensor | None = None) -> tf.Tensor:
    if labels is None:
        return tf.linalg.diag_part(logits)
    return tf.gather(logits, labels, batch_dims=1)


def weighted_mean(values: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
    """The mean of per-positive `values`, weighted by `weights` when given."""
    if weights is None:
        return tf.reduce_mean(values)
    weights = tf.reshape(tf.cast(weights, values.dtype), [-1])
    return tf.math.divide_no_nan(tf.reduce_sum(values * weights), tf.reduce_sum(weights))


def _per_query_over_negatives(values: tf.Tensor, negatives: tf.Tensor) -> tf.Tensor:
    mask = tf.cast(negatives, values.dtype)
    return tf.reduce_sum(values * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def softmax_loss(
    logits: tf.Tensor,
    negatives: tf.Tensor,
    labels: tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
) -> tf.Tensor:
    per_query = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=_labels(logits, labels), logits=logits
    )
    return weighted_mean(per_query, weights)


def bpr_loss(
    logits: tf.Tensor,
    negatives: tf.Tensor,
    labels: tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
) -> tf.Tensor:
    margin = _positives(logits, labels)[:, None] - logits
    per_query = _per_query_over_negatives(-tf.math.log_sigmoid(margin), negatives)
    return weighted_mean(per_query, weights)


def triplet_loss(
    logits: tf.Tensor,
    negatives: tf.Tensor,
    margin: float = 1.0,
    labels: tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
) -> tf.Tensor:
    hinge = tf.nn.relu(margin - _positives(logits, labels)[:, None] + logits)
    return weighted_mean(_per_query_over_negatives(hinge, negatives), weights)


def bce_loss(
    logits: tf.Tensor,
    negatives: tf.Tensor,
    labels: tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
) -> tf.Tensor:
    positive = -tf.math.log_sigmoid(_positives(logits, labels))
    negative = tf.reduce_sum(
        -tf.math.log_sigmoid(-logits) * tf.cast(negatives, logits.dtype), axis=1
    )
    count = 1.0 + tf.reduce_sum(tf.cast(negatives, logits.dtype), axis=1)
    return weighted_mean((positive + negative) / count, weights)


def approx_ndcg_loss(
    logits: tf.Tensor,
    negatives: tf.Tensor,
    alpha: float = 1.0,
    labels: tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
) -> tf.Tensor:
    """1 - 1/log2(1 + rank) of the positive, rank smoothed with sigmoids (Qin et al. 2010)."""
    ahead = tf.sigmoid(alpha * (logits - _positives(logits, labels)[:, None]))
    rank = 1.0 + tf.reduce_sum(ahead * tf.cast(negatives, logits.dtype), axis=1)
    per_query = 1.0 - 1.0 / (tf.math.log(1.0 + rank) / tf.math.log(2.0))
    return weighted_mean(per_query, weights)


def ranking_loss(
    name: str,
    logits: tf.Tensor,
    negatives: tf.Tensor,
    margin: float = 1.0,
    labels: tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
) -> tf.Tensor:
    """The named ranking loss; `labels` is the positive's column (default: the diagonal),
    `weights` each positive's weight (default: 1).

    Raises:
      ValueError: On an unknown name.
    """
    if name == "softmax":
        return softmax_loss(logits, negatives, labels, weights)
    if name == "bpr":
        return bpr_loss(logits, negatives, labels, weights)
    if name == "triplet":
        return triplet_loss(logits, negatives, margin, labels, weights)
    if name == "bce":
        return bce_loss(logits, negatives, labels, weights)
    if name == "approx_ndcg":
        return approx_ndcg_loss(logits, negatives, labels=labels, weights=weights)
    raise ValueError(f"loss must be one of {RANKING_LOSSES}, got {name!r}")


def squared_error(
    labels: tf.Tensor, predictions: tf.Tensor, weights: tf.Tensor | None = None
) -> tf.Tensor:
    """Mean squared error (weighted by `weights` when given)."""
    errors = tf.square(tf.reshape(tf.cast(labels, tf.float32) - predictions, [-1]))
    return weighted_mean(errors, weights)
