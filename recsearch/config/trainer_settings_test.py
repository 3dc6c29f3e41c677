"""The Trainer's settings: written by the pipeline, parsed back typed, errors named."""

import dataclasses
import json

import pytest

from recsearch import model_registry
from recsearch.config import Model
from recsearch.config.trainer_settings import TrainerSettings, with_values
from recsearch.errors import ConfigError


def test_the_custom_config_round_trips_through_json(sample_config):
    config = dataclasses.replace(
        sample_config,
        model=with_values(sample_config.model, {"hidden_layers": (32, 16), "ranker": "dcn"}),
    )
    written = TrainerSettings.from_config(config)
    wire = json.loads(json.dumps(written.to_custom_config()))
    parsed = TrainerSettings.parse(wire)
    assert parsed == dataclasses.replace(written, features=parsed.features)
    assert parsed.features.to_json() == written.features.to_json()
    assert parsed.model.ranker == "dcn"
    assert model_registry.family("dcn").config(parsed.model).hidden_layers == (32, 16)
    assert parsed.judging.top_k == config.evaluation.top_k
    assert parsed.judging.temporal == (config.split.method == "temporal")
    assert parsed.tuning is None
    tuner = TrainerSettings.parse(
        TrainerSettings.from_config(config, tuner=True).to_custom_config()
    )
    assert tuner.tuning == config.tuning


def test_tuned_values_override_the_model_settings_typed(sample_config):
    wire = TrainerSettings.from_config(sample_config).to_custom_config()
    parsed = TrainerSettings.parse(wire, {"embedding_dim": 12, "learning_rate": 1})
    assert parsed.model.settings["embedding_dim"] == 12
    # An integer for a float setting becomes a float, as in a config file.
    assert parsed.model.learning_rate == 1.0 and isinstance(parsed.model.learning_rate, float)
    assert parsed.model.epochs == sample_config.model.epochs


def test_bad_values_name_the_key(sample_config):
    wire = TrainerSettings.from_config(sample_config).to_custom_config()
    with pytest.raises(ConfigError, match=r"'model\.embedding_dim' must be an integer"):
        TrainerSettings.parse(wire, {"embedding_dim": "wide"})
    with pytest.raises(ConfigError, match=r"unknown key 'model\.embedding_size'"):
        TrainerSettings.parse(wire, {"embedding_size": 8})
    with pytest.raises(ConfigError, match=r"missing key 'serving'"):
        TrainerSettings.parse({k: v for k, v in wire.items() if k != "serving"})
    with pytest.raises(ConfigError, match=r"'task' must be one of"):
        TrainerSettings.parse({**wire, "task": "clustering"})


def test_with_values_keeps_the_rest():
    model = Model(epochs=4, settings={"embedding_dim": 8})
    assert with_values(model, {}) is model
    changed = with_values(model, {"bias_l2": 5, "epochs": 6})
    assert changed.settings == {"embedding_dim": 8, "bias_l2": 5.0}
    assert isinstance(changed.settings["bias_l2"], float) and changed.epochs == 6
