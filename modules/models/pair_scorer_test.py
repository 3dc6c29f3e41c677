"""Pair-scoring models against NumPy by hand: fields, FM term, cross layers, NeuMF, the loss."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models import losses, pair_scorer
from recsearch.modules.models.dcn import DCN, CrossLayer
from recsearch.modules.models.deepfm import DeepFM, fm_pairwise
from recsearch.modules.models.fields import FieldEmbeddings
from recsearch.modules.models.neumf import NeuMF
from recsearch.modules.models.wide_deep import WideAndDeep

BATCH = {
    "user_id": tf.constant([0, 1, 2, 3]),
    "age": tf.constant([0.5, -1.0, 2.0, 0.0]),
    "item_id": tf.constant([4, 1, 2, 1]),
    "genre": tf.constant([0, 1, 1, 2]),
}


def _fields(dim=3):
    user = FieldEmbeddings({"user_id": 5}, numeric=("age",), dim=dim, seed=1)
    item = FieldEmbeddings({"item_id": 6, "genre": 3}, dim=dim, seed=2)
    return user, item


def test_fields_hold_vectors_then_the_first_order_sum():
    user, _ = _fields()
    flat = user(BATCH).numpy()
    table = user.embeddings["user_id"].embeddings.numpy()
    numeric = user.numeric_weights.numpy()
    age = BATCH["age"].numpy()
    ids = BATCH["user_id"].numpy()
    expected_vectors = np.concatenate([table[ids, :3], age[:, None] * numeric[0, :3]], axis=1)
    np.testing.assert_allclose(flat[:, :6], expected_vectors, rtol=1e-6)
    np.testing.assert_allclose(flat[:, 6], table[ids, 3] + age * numeric[0, 3], rtol=1e-6)
    vectors, linear = user.split(tf.constant(flat))
    assert vectors.shape == (4, 2, 3) and linear.shape == (4,)


def test_fm_pairwise_term_is_the_sum_over_field_pairs():
    fields = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    expected = [
        sum(fields[b, f] @ fields[b, g] for f, g in itertools.combinations(range(4), 2))
        for b in range(2)
    ]
    np.testing.assert_allclose(fm_pairwise(tf.constant(fields)).numpy(), expected, rtol=1e-5)


def test_cross_layer_is_x0_times_affine_x_plus_x():
    layer = CrossLayer()
    x0 = tf.constant([[1.0, 2.0], [0.5, -1.0]])
    x = tf.constant([[0.0, 1.0], [2.0, 3.0]])
    out = layer(x0, x).numpy()
    kernel, bias = (w.numpy() for w in layer.dense.weights)
    np.testing.assert_allclose(out, x0.numpy() * (x.numpy() @ kernel + bias) + x.numpy(), rtol=1e-5)


def test_neumf_is_gmf_and_mlp_into_one_output_layer():
    user, item = _fields(dim=4)
    model = NeuMF(user, item, hidden_layers=(5,))
    scores = model(BATCH).numpy()
    u, _ = user.split(user(BATCH))
    i, _ = item.split(item(BATCH))
    u, i = u.numpy(), i.numpy()
    gmf = u[:, :, :2].sum(axis=1) * i[:, :, :2].sum(axis=1)
    both = np.concatenate([u[:, :, 2:], i[:, :, 2:]], axis=1).reshape(4, -1)
    kernel, bias = (w.numpy() for w in model.tower[0].weights)
    deep = np.maximum(both @ kernel + bias, 0.0)
    out_kernel, out_bias = (w.numpy() for w in model.output_layer.weights)
    expected = np.concatenate([gmf, deep], axis=1) @ out_kernel[:, 0] + out_bias[0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [NeuMF, WideAndDeep, DeepFM, DCN])
def test_score_matrix_agrees_with_pair_scores(cls):
    user, item = _fields(dim=4)
    model = cls(user, item)
    queries, candidates = model.query_vectors(BATCH), model.candidate_vectors(BATCH)
    matrix = model.score_matrix(queries, candidates).numpy()
    assert matrix.shape == (4, 4)
    for b in range(4):
        pairs = model.score_pairs(tf.repeat(queries[b : b + 1], 4, axis=0), candidates)
        np.testing.assert_allclose(matrix[b], pairs.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.diag(matrix), model(BATCH).numpy(), rtol=1e-5, atol=1e-6)


def test_loss_is_the_positive_against_the_shifted_batch():
    user, item = _fields(dim=4)
    model = DeepFM(user, item, num_negatives=2, loss="bce")
    matrix = model.score_matrix(model.query_vectors(BATCH), model.candidate_vectors(BATCH))
    matrix = matrix.numpy()
    items = BATCH["item_id"].numpy()

    def softplus(x):
        return np.log1p(np.exp(x))

    rows = []
    for b in range(4):
        negatives = [(b - s) % 4 for s in (1, 2)]  # tf.roll by s brings row b - s to b
        kept = [matrix[b, j] for j in negatives if items[j] != items[b]]
        rows.append((softplus(-matrix[b, b]) + sum(softplus(x) for x in kept)) / (1 + len(kept)))
    assert float(model.compute_loss(BATCH)) == pytest.approx(np.mean(rows), rel=1e-5)


def test_bad_arguments_are_named():
    user, item = _fields(dim=3)
    with pytest.raises(ValueError, match="2k wide"):
        NeuMF(user, item)
    with pytest.raises(ValueError, match="num_negatives"):
        DeepFM(*_fields(), num_negatives=0)
    with pytest.raises(ValueError, match="got 'listnet'"):
        DeepFM(*_fields(), loss="listnet")
    with pytest.raises(ValueError, match="at least one field"):
        FieldEmbeddings({})
    assert losses.RANKING_LOSSES[0] == "softmax"


def test_uniform_negatives_come_from_the_pool():
    # A pool of one item (5, genre 2): every negative of every row is that item.
    user, item = _fields(dim=4)
    pool = {"item_id": np.array([5]), "genre": np.array([2])}
    model = WideAndDeep(user, item, num_negatives=3, loss="softmax", negative_pool=pool)
    queries = model.query_vectors(BATCH)
    positives = model.score_pairs(queries, model.candidate_vectors(BATCH)).numpy()
    negative_vector = model.candidate_vectors(
        {"item_id": tf.constant([5]), "genre": tf.constant([2])}
    )
    negatives = model.score_pairs(queries, tf.repeat(negative_vector, 4, axis=0)).numpy()
    logits = np.stack([positives] + [negatives] * 3, axis=1)
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - positives)
    assert float(model.compute_loss(BATCH)) == pytest.approx(expected, rel=1e-5)


def test_the_freshness_term_is_read_per_age_bucket():
    model = NeuMF(*_fields(dim=4), hidden_layers=(5,))
    model.freshness.assign(np.arange(len(pair_scorer.AGE_BOUNDARIES) + 1, dtype=np.float32))
    scores = tf.zeros([1, 4])
    retrieval = tf.constant([[1.0, 0.0, 0.0, 0.0]])
    # log(1 + days): under a quarter, just over a quarter, 2.1, beyond the last boundary.
    ages = tf.constant([[0.1, 0.26, 2.1, 50.0]])
    got = model.rerank_scores(scores, retrieval, ages).numpy()
    np.testing.assert_allclose(got, [[1.0, 1, 8, 32]])
    np.testing.assert_allclose(model.rerank_scores(scores, retrieval).numpy(), retrieval)
