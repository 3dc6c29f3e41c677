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


# Each loss per query (row): logits [B, N], negatives [B, N] (which columns count
# as negatives), labels [B] (the positive's column; None: the diagonal), margin.


def _softmax(logits, negatives, labels, margin):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=_labels(logits, labels), logits=logits
    )


def _bpr(logits, negatives, labels, margin):
    difference = _positives(logits, labels)[:, None] - logits
    return _per_query_over_negatives(-tf.math.log_sigmoid(difference), negatives)


def _triplet(logits, negatives, labels, margin):
    hinge = tf.nn.relu(margin - _positives(logits, labels)[:, None] + logits)
    return _per_query_over_negatives(hinge, negatives)


def _bce(logits, negatives, labels, margin):
    positive = -tf.math.log_sigmoid(_positives(logits, labels))
    mask = tf.cast(negatives, logits.dtype)
    negative = tf.reduce_sum(-tf.math.log_sigmoid(-logits) * mask, axis=1)
    return (positive + negative) / (1.0 + tf.reduce_sum(mask, axis=1))


def _approx_ndcg(logits, negatives, labels, margin, alpha: float = 1.0):
    """1 - 1/log2(1 + rank) of the positive, rank smoothed with sigmoids (Qin et al. 2010)."""
    ahead = tf.sigmoid(alpha * (logits - _positives(logits, labels)[:, None]))
    rank = 1.0 + tf.reduce_sum(ahead * tf.cast(negatives, logits.dtype), axis=1)
    return 1.0 - 1.0 / (tf.math.log(1.0 + rank) / tf.math.log(2.0))


_PER_QUERY = {
    "softmax": _softmax,
    "approx_ndcg": _approx_ndcg,
    "bpr": _bpr,
    "triplet": _triplet,
    "bce": _bce,
}
RANKING_LOSSES = tuple(_PER_QUERY)


def ranking_loss(
    name: str,
    logits: tf.Tensor,
    negatives: tf.Tensor,
    margin: float = 1.0,
    labels: tf.Tensor | None = None,
    weights: tf.Tensor | None = None,
) -> tf.Tensor:
    """The named ranking loss: softmax, approx_ndcg (listwise), bpr, triplet (pairwise,
    triplet with `margin`) or bce (pointwise), averaged over the positives.

    `labels` is the positive's column (default: the diagonal), `weights` each
    positive's weight (default: 1).

    Raises:
      ValueError: On an unknown name.
    """
    if name not in _PER_QUERY:
        raise ValueError(f"loss must be one of {RANKING_LOSSES}, got {name!r}")
    return weighted_mean(_PER_QUERY[name](logits, negatives, labels, margin), weights)


def squared_error(
    labels: tf.Tensor, predictions: tf.Tensor, weights: tf.Tensor | None = None
) -> tf.Tensor:
    """Mean squared error (weighted by `weights` when given)."""
    errors = tf.square(tf.reshape(tf.cast(labels, tf.float32) - predictions, [-1]))
    return weighted_mean(errors, weights)
