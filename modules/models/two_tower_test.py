"""Two-tower loss with mixed negatives, against the in-batch loss computed by hand."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models import losses
from recsearch.modules.models.towers import FeatureTower
from recsearch.modules.models.two_tower import TwoTowerModel


def _model(**kwargs):
    def tower(name, seed):
        return FeatureTower(name, {name: 6}, output_dim=4, normalize=True, seed=seed)

    probability = np.full(6, 1 / 6, np.float32)
    return TwoTowerModel(tower("user_id", 1), tower("item_id", 2), probability, **kwargs)


BATCH = {"user_id": tf.constant([0, 1, 2]), "item_id": tf.constant([1, 2, 4])}


def test_mixed_negatives_join_the_in_batch_ones_while_training_only():
    # A pool of one item (3): every uniform draw is item 3.
    model = _model(mixed_negatives=2, negative_pool={"item_id": np.array([3])})
    queries = model.query_vectors(BATCH)
    candidates = model.candidate_vectors(BATCH)
    pool = model.candidate_vectors({"item_id": tf.constant([3, 3])})
    log_q = tf.fill([3], float(np.log(1 / 6)))
    extra = (pool, tf.constant([3, 3]), tf.fill([2], 0.0))  # log(1 / pool size) = 0
    logits, negatives = losses.in_batch_logits(
        queries, candidates, BATCH["item_id"], log_q, model.temperature, extra=extra
    )
    expected = losses.ranking_loss("softmax", logits, negatives)
    got = model.compute_loss(BATCH, training=True)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
    plain, plain_negatives = losses.in_batch_logits(
        queries, candidates, BATCH["item_id"], log_q, model.temperature
    )
    evaluated = model.compute_loss(BATCH, training=False)
    assert float(evaluated) == pytest.approx(
        float(losses.ranking_loss("softmax", plain, plain_negatives)), rel=1e-5
    )
    assert float(got) > float(evaluated)  # more negatives, larger softmax loss


def test_mixed_negatives_need_a_pool():
    with pytest.raises(ValueError, match="negative_pool"):
        _model(mixed_negatives=4)


def test_content_encoded_once_per_item_gives_the_loss_and_gradients_of_every_row():
    """Rows of one item share their text and image vectors; nothing else changes."""
    from recsearch import features as keys
    from recsearch.modules.models.encoders import ImageEncoder, TextEncoder

    def tower(name, seed, content):
        extra = {}
        if content:
            extra = dict(
                text=["item__title"],
                text_encoder=TextEncoder(vocab_size=8, dim=4),
                image_feature=keys.IMAGE,
                image_encoder=ImageEncoder(output_dim=4),
            )
        return FeatureTower(name, {name: 6}, output_dim=4, normalize=True, seed=seed, **extra)

    model = TwoTowerModel(tower("user_id", 1, False), tower("item_id", 2, True), content_weight=0.5)
    rng = np.random.default_rng(0)
    titles = rng.integers(0, 8, size=(3, 5))
    pixels = rng.integers(0, 256, size=(3, 4, 4, 3))
    items = np.array([1, 2, 1, 1, 0])  # item 1 three times
    batch = {
        "user_id": tf.constant([0, 1, 2, 3, 4]),
        "item_id": tf.constant(items),
        "item__title": tf.constant(titles[items]),
        keys.IMAGE: tf.constant(pixels[items]),
    }
    keyed = {**batch, keys.ITEM_KEY: tf.constant([f"i{i}".encode() for i in items])}

    def loss_and_gradients(features):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(features)
        return float(loss), tape.gradient(loss, model.trainable_variables)

    model.compute_loss(batch)  # builds every layer
    # The loss as written out: the item tower and each query head on every row.
    candidates = model.candidate_vectors(batch)
    plain, negatives = losses.in_batch_logits(
        model.query_vectors(batch), candidates, batch["item_id"], None, model.temperature
    )
    expected = float(losses.ranking_loss("softmax", plain, negatives))
    for queries in (
        model.text_query_vectors(batch),
        model.image_query_vectors(batch[keys.IMAGE]),
    ):
        logits, negatives = losses.in_batch_logits(
            queries, candidates, batch["item_id"], None, model.temperature
        )
        expected += 0.5 * float(losses.ranking_loss("softmax", logits, negatives))
    each_row, each_row_gradients = loss_and_gradients(batch)
    once_per_item, once_gradients = loss_and_gradients(keyed)
    assert each_row == pytest.approx(expected, rel=1e-5)
    assert once_per_item == pytest.approx(expected, rel=1e-5)
    assert len(each_row_gradients) == len(once_gradients) > 0
    for a, b in zip(each_row_gradients, once_gradients):
        np.testing.assert_allclose(
            tf.convert_to_tensor(a), tf.convert_to_tensor(b), rtol=1e-5, atol=1e-5
        )
