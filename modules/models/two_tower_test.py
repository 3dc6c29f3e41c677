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
