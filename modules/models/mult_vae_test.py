"""Mult-VAE: the loss by hand, the serving factorisation, learning a planted structure."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models.mult_vae import MultVAE
from recsearch.testing import tiny_catalog


def test_eval_loss_is_the_multinomial_likelihood_plus_beta_kl():
    catalog = tiny_catalog([[0, 2], [1]], num_items=3)
    model = MultVAE(catalog, latent_dim=2, hidden_dim=4, dropout=0.5, beta=0.3)
    users = tf.constant([0, 1], tf.int64)
    features = {"user_id": users, "item_id": tf.constant([0, 1], tf.int64)}
    loss = float(model.compute_loss(features, training=False))
    # By hand, from the layers' weights: no dropout and z = mu when not training.
    x = np.array([[1, 0, 1], [0, 1, 0]], np.float32)
    h = np.tanh((x / np.linalg.norm(x, axis=1, keepdims=True)) @ model.hidden.kernel.numpy())
    h += 0  # biases start at zero
    mean = h @ model.to_mean.kernel.numpy()
    log_var = h @ model.to_log_var.kernel.numpy()
    logits = mean @ model.decoder.kernel.numpy()
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    kl = 0.5 * (np.exp(log_var) + mean**2 - 1 - log_var).sum(axis=1)
    expected = np.mean(-(log_softmax * x).sum(axis=1) + 0.3 * kl)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_query_times_candidate_is_the_decoder_logit():
    catalog = tiny_catalog([[0, 2], [1, 3]], num_items=4)
    model = MultVAE(catalog, latent_dim=3, hidden_dim=5)
    users = tf.constant([0, 0, 1, 1], tf.int64)
    items = tf.constant([1, 3, 0, 9], tf.int64)  # 9: outside the vocabulary
    scores = model({"user_id": users, "item_id": items}).numpy()
    mean, _ = model._encode(model.user_history.dense(users), training=False)
    logits = model.decoder(mean).numpy()
    np.testing.assert_allclose(scores[:3], logits[[0, 1, 2], [1, 3, 0]], rtol=1e-5, atol=1e-6)
    assert scores[3] == 0.0


def test_learns_two_groups_of_items():
    # Users 0-19 take from items 0-4, users 20-39 from items 5-9; each leaves one out.
    rng = np.random.default_rng(0)
    history = [
        sorted(rng.choice(range(5) if u < 20 else range(5, 10), 4, replace=False))
        for u in range(40)
    ]
    model = MultVAE(tiny_catalog(history), latent_dim=4, hidden_dim=16, dropout=0.2, beta=0.1)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02))
    users = np.repeat(np.arange(40), 4)
    items = np.concatenate(history)
    data = tf.data.Dataset.from_tensor_slices({"user_id": users, "item_id": items}).batch(40)
    model.fit(data.repeat(30), verbose=0)
    everything = {"item_id": tf.range(10, dtype=tf.int64)}
    scores = model.query_vectors({"user_id": tf.constant([0, 25], tf.int64)}).numpy() @ (
        model.candidate_vectors(everything).numpy().T
    )
    missing = [
        next(i for i in range(5) if i not in history[0]),
        next(i for i in range(5, 10) if i not in history[25]),
    ]
    assert scores[0, missing[0]] > scores[0, 5:].max()
    assert scores[1, missing[1]] > scores[1, :5].max()


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(latent_dim=0), "latent_dim"), (dict(dropout=1.0), "dropout"), (dict(beta=-1.0), "beta")],
)
def test_bad_arguments_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultVAE(tiny_catalog([[0]]), **kwargs)
