"""The Tuner: its validation split by hand, and a real KerasTuner search whose best values train."""

import dataclasses

import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from recsearch import testing
from recsearch.config.trainer_settings import TrainerSettings
from recsearch.modules import trainer, tuning


def test_inner_split_holds_out_each_users_latest_rows():
    columns = {
        "user_id": np.array([0, 1, 0, 0, 1, 0, 2]),
        "item_id": np.array([10, 11, 12, 13, 14, 15, 16]),
        "timestamp": np.array([5, 1, 1, 9, 2, 3, 4]),
    }
    fit_part, held = tuning.inner_split(columns, 0.5, temporal=True, seed=0)
    # User 0: times 1, 3, 5, 9 -> the two latest (items 10, 13) held out;
    # user 1: times 1, 2 -> one held out (14); user 2 keeps its only row.
    assert sorted(held["item_id"]) == [10, 13, 14]
    assert sorted(fit_part["item_id"]) == [11, 12, 15, 16]


def test_search_space_casts_numbers_to_the_settings_type():
    hp = tuning.search_space({"learning_rate": [1, 0.5], "embedding_dim": [8, 16]})
    assert hp.get("learning_rate") in (1.0, 0.5)
    assert {type(v) for v in hp.space[0].values} == {float}


@pytest.mark.slow
def test_search_runs_trials_and_the_trainer_trains_the_best(transformed, tmp_path):
    config = dataclasses.replace(
        transformed.config,
        tuning=dataclasses.replace(
            transformed.config.tuning,
            max_trials=2,
            search_space={"embedding_dim": (8, 12)},
        ),
        model=dataclasses.replace(transformed.config.model, epochs=1),
    )
    args = testing.fn_args(
        config,
        transformed.transformed_dir,
        transformed.transform_graph,
        str(tmp_path / "serving"),
        str(tmp_path / "run"),
    )
    args.custom_config = TrainerSettings.from_config(config, tuner=True).to_custom_config()
    args.working_dir = str(tmp_path / "tuner")
    result = tuning.tuner_fn(args)
    result.tuner.search(**result.fit_kwargs)
    trials = result.tuner.oracle.get_best_trials(2)
    assert len(trials) == 2
    assert {t.hyperparameters.values["embedding_dim"] for t in trials} == {8, 12}
    scores = [t.score for t in trials]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores[0] >= scores[1]
    best = result.tuner.get_best_hyperparameters()[0]
    # The Trainer merges the best values over the config and trains them.
    train_args = testing.fn_args(
        config,
        transformed.transformed_dir,
        transformed.transform_graph,
        str(tmp_path / "serving"),
        str(tmp_path / "run"),
    )
    train_args.hyperparameters = best.get_config()
    trainer.run_fn(train_args)
    model = tf.saved_model.load(str(tmp_path / "serving"))
    vectors = model.signatures["embed_items"](item_id=tf.constant(["i0001"]))["embeddings"]
    assert vectors.shape[1] == best.values["embedding_dim"]


def test_a_refused_value_fails_the_search_with_the_values():
    tuner = tuning.SearchTuner(
        keras_tuner.oracles.RandomSearchOracle(
            objective=keras_tuner.Objective(tuning.OBJECTIVE, "max"),
            max_trials=1,
            hyperparameters=tuning.search_space({"temperature": [-1.0]}),
        ),
        evaluate=lambda values: (_ for _ in ()).throw(ValueError("temperature must be positive")),
        overwrite=True,
        directory="/tmp/recsearch-tuning-test",
    )
    with pytest.raises(keras_tuner.errors.FatalError, match="temperature.*-1.0.*positive"):
        tuner.search()
