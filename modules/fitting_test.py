"""The training budget in examples seen (`model.max_examples`), computed and honoured by fit."""

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
    hparams = {"epochs": epochs, "batch_size": 1024, "max_examples": budget}
    assert fitting.training_budget(hparams, rows) == expected


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
    hparams = {"epochs": 5, "batch_size": 10, "max_examples": budget}
    losses = fitting.fit(model, _dataset(100), hparams, 0, str(tmp_path), rows=100)
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
    hparams = {"epochs": 5, "batch_size": 10, "max_examples": 250}
    losses = fitting.fit(model, _dataset(100), hparams, 37, str(tmp_path), rows=100)
    assert len(losses) == 1 and int(model.optimizer.iterations.numpy()) == 37
