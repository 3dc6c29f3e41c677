"""The training budget in examples seen (`model.max_examples`), computed and honoured by fit."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from recsearch.config.model import Model
from recsearch.modules import fitting


@pytest.mark.parametrize(
    "rows, epochs, budget, expected",
    [
        (1_000, 10, None, (10, None)),  # no budget: the configured epochs
        (1_000, 10, 10_000, (10, None)),  # exactly within it
        (1_000, 10, 2_500, (2, None)),  # as many whole passes as fit
        (1_000_000, 10, 3_000_000, (3, None)),  # the default at 1M rows: three passes
        (10_000_000, 10, 3_000_000, (1, 2_930)),  # and at 10M: ceil(3M / 1024) steps of one pass
        (30_000_000, 10, 20_000_000, (1, 19_532)),  # one pass is too many: ceil(20M / 1024) steps
        (None, 10, 5, (10, None)),  # rows unknown: the configured epochs
    ],
)
def test_training_budget_by_examples_seen(rows, epochs, budget, expected):
    assert Model().max_examples == 3_000_000  # the default the cases above name
    settings = Model(epochs=epochs, batch_size=1024, max_examples=budget)
    assert fitting.training_budget(settings, rows) == expected


def _dataset(rows: int):
    x = np.random.default_rng(0).random((rows, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)

    def dataset(batch_size: int, shuffle: bool) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    return dataset


@pytest.mark.parametrize(
    "budget, epochs_run, steps_run",
    [(None, 5, 50), (250, 2, 20), (55, 1, 6)],
)
def test_fit_runs_the_budgeted_epochs_and_steps(tmp_path, capsys, budget, epochs_run, steps_run):
    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    settings = Model(epochs=5, batch_size=10, max_examples=budget)
    losses = fitting.fit(model, _dataset(100), settings, 0, str(tmp_path), rows=100)
    assert len(losses) == epochs_run
    assert int(model.optimizer.iterations.numpy()) == steps_run
    # The terminal says when the budget cut the training, and by how much.
    said = capsys.readouterr().err
    if budget is None:
        assert "max_examples" not in said
    else:
        cut = f"{epochs_run} epochs" if steps_run == epochs_run * 10 else f"{steps_run} steps"
        assert f"100 training rows x 5 epochs exceed model.max_examples ({budget}): " in said
        assert f"training {cut}" in said


def test_a_step_budget_from_train_args_replaces_epochs_and_examples(tmp_path):
    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    settings = Model(epochs=5, batch_size=10, max_examples=250)
    losses = fitting.fit(model, _dataset(100), settings, 37, str(tmp_path), rows=100)
    assert len(losses) == 1 and int(model.optimizer.iterations.numpy()) == 37


def test_validation_stops_training_and_keeps_the_best_epoch(tmp_path):
    # Training rows y = x, validation rows y = 0.3 x: from w = 0 the weight climbs
    # toward 1 epoch by epoch, so the validation loss falls until w passes 0.3, then
    # rises. A twin trained the same way, epoch by epoch, says which epoch was best.
    x = np.random.default_rng(1).random((64, 1)).astype(np.float32)

    def rows(slope):
        def dataset(batch_size: int, shuffle: bool) -> tf.data.Dataset:
            return tf.data.Dataset.from_tensor_slices((x, slope * x)).batch(batch_size)

        return dataset

    def model():
        net = tf.keras.Sequential(
            [tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
        )
        net.compile(optimizer=tf.keras.optimizers.SGD(0.01), loss="mse")
        return net

    twin, losses, weights = model(), [], []
    for _ in range(20):
        twin.fit(rows(1.0)(8, False), epochs=1, verbose=0)
        losses.append(twin.evaluate(rows(0.3)(8, False), verbose=0))
        weights.append(twin.get_weights())
    best = int(np.argmin(losses))
    assert 0 < best < 20 - fitting.PATIENCE - 1  # the rise comes well before 20 epochs
    trained = model()
    settings = Model(epochs=20, batch_size=8, max_examples=None)
    run = fitting.fit(trained, rows(1.0), settings, 0, str(tmp_path), validation=rows(0.3))
    assert len(run) == best + 1 + fitting.PATIENCE
    assert trained.best_epochs == best + 1
    for got, want in zip(trained.get_weights(), weights[best]):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    # Without validation every epoch runs, and best_epochs counts them.
    fitting.fit(trained, rows(1.0), dataclasses.replace(settings, epochs=3), 0, str(tmp_path))
    assert trained.best_epochs == 3
