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


def test_in_batch_softmax_matches_reference_with_duplicates_and_log_q():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(4, 3)).astype(np.float32)
    c = rng.normal(size=(4, 3)).astype(np.float32)
    ids = np.array([7, 2, 7, 5])
    log_q = np.log(np.array([0.5, 0.1, 0.5, 0.2], dtype=np.float32))
    got = losses.in_batch_softmax(
        tf.constant(q), tf.constant(c), tf.constant(ids), tf.constant(log_q), temperature=0.5
    )
    assert float(got) == pytest.approx(_reference(q, c, ids, log_q, 0.5), rel=1e-5)


def test_perfect_separation_gives_near_zero_loss():
    eye = tf.eye(3) * 10.0
    got = losses.in_batch_softmax(eye, eye, tf.constant([0, 1, 2]), temperature=0.1)
    assert float(got) < 1e-6


def test_squared_error():
    got = losses.squared_error(tf.constant([1.0, 3.0]), tf.constant([2.0, 3.0]))
    assert float(got) == pytest.approx(0.5)
