"""In-batch softmax against a NumPy computation by hand."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models import losses


def _reference(q, c, ids, log_q, temperature):
    logits = q @ c.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    n = len(ids)
    for i in range(n):
        for j in range(n):
            if i != j and ids[i] == ids[j]:
                logits[i, j] = losses.MASKED_LOGIT
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.mean(np.diag(log_softmax))


def _in_batch_softmax(queries, candidates, ids, log_q=None, temperature=1.0):
    logits, negatives = losses.in_batch_logits(queries, candidates, ids, log_q, temperature)
    return losses.ranking_loss("softmax", logits, negatives)


def test_in_batch_softmax_matches_reference_with_duplicates_and_log_q():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(4, 3)).astype(np.float32)
    c = rng.normal(size=(4, 3)).astype(np.float32)
    ids = np.array([7, 2, 7, 5])
    log_q = np.log(np.array([0.5, 0.1, 0.5, 0.2], dtype=np.float32))
    got = _in_batch_softmax(
        tf.constant(q), tf.constant(c), tf.constant(ids), tf.constant(log_q), temperature=0.5
    )
    assert float(got) == pytest.approx(_reference(q, c, ids, log_q, 0.5), rel=1e-5)


def test_perfect_separation_gives_near_zero_loss():
    eye = tf.eye(3) * 10.0
    got = _in_batch_softmax(eye, eye, tf.constant([0, 1, 2]), temperature=0.1)
    assert float(got) < 1e-6


def test_squared_error():
    got = losses.squared_error(tf.constant([1.0, 3.0]), tf.constant([2.0, 3.0]))
    assert float(got) == pytest.approx(0.5)


def _batch():
    scores = np.array([[2.0, 1.0, 0.0], [0.5, 1.5, 3.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    ids = np.array([4, 5, 6])
    logits, negatives = losses.in_batch_logits(
        tf.eye(3), tf.constant(scores.T), tf.constant(ids), temperature=1.0
    )
    return scores, logits, negatives


def test_pairwise_losses_by_hand():
    scores, logits, negatives = _batch()
    np.testing.assert_allclose(logits.numpy(), scores)
    off = ~np.eye(3, dtype=bool)
    diff = np.diag(scores)[:, None] - scores
    bpr = np.mean([np.mean(np.log1p(np.exp(-diff[i][off[i]]))) for i in range(3)])
    assert float(losses.ranking_loss("bpr", logits, negatives)) == pytest.approx(bpr, rel=1e-5)
    hinge = np.maximum(0.0, 1.0 - diff)
    triplet = np.mean([np.mean(hinge[i][off[i]]) for i in range(3)])
    assert float(losses.ranking_loss("triplet", logits, negatives, 1.0)) == pytest.approx(
        triplet, rel=1e-5
    )


def test_pointwise_and_listwise_losses_by_hand():
    scores, logits, negatives = _batch()

    def softplus(x):
        return np.log1p(np.exp(x))

    off = ~np.eye(3, dtype=bool)
    bce = np.mean(
        [(softplus(-scores[i, i]) + softplus(scores[i][off[i]]).sum()) / 3 for i in range(3)]
    )
    assert float(losses.ranking_loss("bce", logits, negatives)) == pytest.approx(bce, rel=1e-5)
    rank = 1 + np.array(
        [np.sum(1 / (1 + np.exp(-(scores[i][off[i]] - scores[i, i])))) for i in range(3)]
    )
    ndcg = np.mean(1 - 1 / np.log2(1 + rank))
    assert float(losses.ranking_loss("approx_ndcg", logits, negatives)) == pytest.approx(
        ndcg, rel=1e-5
    )


def test_accidental_hits_are_not_negatives():
    ids = tf.constant([1, 1, 2])
    _, negatives = losses.in_batch_logits(tf.eye(3), tf.eye(3), ids)
    assert negatives.numpy().tolist() == [
        [False, False, True],
        [False, False, True],
        [True, True, False],
    ]
    with pytest.raises(ValueError, match="got 'listnet'"):
        losses.ranking_loss("listnet", tf.eye(2), tf.ones((2, 2), tf.bool))


@pytest.mark.parametrize("name", losses.RANKING_LOSSES)
def test_sampled_layout_gives_the_in_batch_loss_for_the_same_negatives(name):
    scores, logits, negatives = _batch()
    off = ~np.eye(3, dtype=bool)
    negative = np.stack([scores[i][off[i]] for i in range(3)])
    ids = np.array([4, 5, 6])
    negative_ids = np.stack([ids[off[i]] for i in range(3)])
    sampled, mask, labels = losses.sampled_logits(
        tf.constant(np.diag(scores)), tf.constant(negative), tf.constant(ids), negative_ids
    )
    assert sampled.shape == (3, 3) and mask.numpy()[:, 0].tolist() == [False] * 3
    expected = losses.ranking_loss(name, logits, negatives, margin=0.5)
    got = losses.ranking_loss(name, sampled, mask, margin=0.5, labels=labels)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)


def test_sampled_accidental_hits_are_masked_and_log_q_subtracted():
    logits, mask, _ = losses.sampled_logits(
        tf.constant([1.0]),
        tf.constant([[2.0, 3.0]]),
        tf.constant([7]),
        tf.constant([[7, 8]]),
        log_q=tf.constant([[0.0, np.log(0.5)]], tf.float32),
        temperature=0.5,
    )
    np.testing.assert_allclose(logits.numpy(), [[2.0, losses.MASKED_LOGIT, 6.0 - np.log(0.5)]])
    assert mask.numpy().tolist() == [[False, False, True]]


def test_mixed_negatives_are_appended_columns_with_their_own_correction():
    queries = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    candidates = tf.constant([[2.0, 0.0], [0.0, 3.0]])
    extra = (tf.constant([[1.0, 1.0], [0.0, 3.0]]), tf.constant([9, 6]), tf.constant([-1.0, -2.0]))
    logits, negatives = losses.in_batch_logits(
        queries, candidates, tf.constant([5, 6]), temperature=1.0, extra=extra
    )
    # Column 3 is item 6 again: an accidental hit for row 1, a negative for row 0.
    np.testing.assert_allclose(
        logits.numpy(), [[2.0, 0.0, 2.0, 2.0], [0.0, 3.0, 2.0, losses.MASKED_LOGIT]]
    )
    assert negatives.numpy().tolist() == [[False, True, True, True], [True, False, True, False]]
    # The softmax still takes the diagonal as the positive.
    loss = float(losses.ranking_loss("softmax", logits, negatives))
    row0 = -2.0 + np.log(np.exp([2.0, 0.0, 2.0, 2.0]).sum())
    row1 = -3.0 + np.log(np.exp([0.0, 3.0, 2.0]).sum() + np.exp(losses.MASKED_LOGIT))
    assert loss == pytest.approx((row0 + row1) / 2, rel=1e-5)


@pytest.mark.parametrize("name", losses.RANKING_LOSSES)
def test_weights_make_a_weighted_mean_over_the_positives(name):
    logits = tf.constant([[2.0, 0.5, -1.0], [0.3, 1.0, 0.2], [1.5, -0.5, 0.1]])
    negatives = ~tf.eye(3, dtype=tf.bool)
    plain = float(losses.ranking_loss(name, logits, negatives))
    ones = float(losses.ranking_loss(name, logits, negatives, weights=tf.ones([3])))
    assert ones == pytest.approx(plain, rel=1e-6)
    # Weight 0 drops a positive; weights 3 and 1 count the first three times.
    per_row = [
        float(losses.ranking_loss(name, logits, negatives, weights=tf.one_hot(i, 3)))
        for i in range(3)
    ]
    weighted = float(
        losses.ranking_loss(name, logits, negatives, weights=tf.constant([3.0, 0.0, 1.0]))
    )
    assert weighted == pytest.approx((3 * per_row[0] + per_row[2]) / 4, rel=1e-5)
    assert plain == pytest.approx(sum(per_row) / 3, rel=1e-5)


def test_weighted_squared_error():
    labels, predictions = tf.constant([4.0, 2.0]), tf.constant([3.0, 2.5])
    assert float(losses.squared_error(labels, predictions)) == pytest.approx((1 + 0.25) / 2)
    weighted = losses.squared_error(labels, predictions, tf.constant([1.0, 3.0]))
    assert float(weighted) == pytest.approx((1 + 3 * 0.25) / 4)
