"""RecommenderModel's training loop reports each epoch's mean loss, not its last batch's."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch import features as keys
from recsearch.modules.models.mf import BiasedMF


def test_fit_and_evaluate_report_the_mean_over_every_row():
    rng = np.random.default_rng(0)
    rows = 10  # batches of 4, 4 and a remainder of 2
    data = {
        keys.USER_ID: rng.integers(0, 5, rows),
        keys.ITEM_ID: rng.integers(0, 4, rows),
        keys.RATING: rng.uniform(1, 5, rows).astype(np.float32),
    }
    model = BiasedMF(num_users=5, num_items=4, dim=3, global_mean=3.0)
    # A learning rate of 0: the weights stay put, so every batch is scored alike.
    model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
    batches = tf.data.Dataset.from_tensor_slices(data).batch(4)
    whole = float(model.compute_loss({k: tf.constant(v) for k, v in data.items()}))
    last = float(model.compute_loss({k: tf.constant(v[8:]) for k, v in data.items()}))
    assert whole != pytest.approx(last, rel=1e-3)
    history = model.fit(batches, epochs=2, verbose=0).history
    assert history["loss"] == pytest.approx([whole, whole], rel=1e-5)
    assert model.evaluate(batches, verbose=0, return_dict=True)["loss"] == pytest.approx(
        whole, rel=1e-5
    )
