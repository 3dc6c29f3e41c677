"""create_pipeline: components, wiring, module paths, and the Evaluator's thresholds."""

import importlib
import json

import tensorflow_model_analysis as tfma

from recsearch import testing
from recsearch.components.evaluator import eval_config
from recsearch.config import config_from_dict
from recsearch.pipeline import pipeline


def _config(**extra):
    raw = {
        "name": "t",
        "interactions": {"path": "/data/i.csv", "rating": "r", "timestamp": "ts"},
        **extra,
    }
    return config_from_dict(raw, base_dir="/data")


def test_components_and_wiring():
    p = pipeline.create_pipeline(_config(), "/root", "/serving")
    ids = [c.id for c in p.components]
    assert len(ids) == len(set(ids)) and set(ids) == testing.PIPELINE_COMPONENTS
    by_id = {c.id: c for c in p.components}
    assert by_id["Transform"].inputs["schema"].producer_component_id == "DataGate"
    # No resolver: the baseline, the warm start and the previous schema are what is served.
    for consumer, key in (("Evaluator", "baseline_model"), ("ReleaseGate", "baseline_model")):
        assert by_id[consumer].inputs[key].producer_component_id == "ServedModel"
    assert by_id["Trainer"].inputs["base_model"].producer_component_id == "ServedModel"
    assert by_id["RunReport"].inputs["previous_schema"].producer_component_id == "ServedModel"
    assert by_id["ServedModel"].exec_properties["serving_dir"] == "/serving"
    assert by_id["ServedModel"].exec_properties["state_dir"] == "/root/state/t"
    assert by_id["RunReport"].exec_properties["state_dir"] == "/root/state/t"
    assert by_id["Pusher"].exec_properties["base_directory"] == "/serving"
    assert by_id["Pusher"].inputs["model_blessing"].producer_component_id == "ReleaseGate"
    assert by_id["ReleaseGate"].inputs["evaluation"].producer_component_id == "Evaluator"
    assert by_id["RunReport"].inputs["pushed_model"].producer_component_id == "Pusher"
    assert p.enable_cache
    assert pipeline.NEVER_CACHED == ("ServedModel",)


def test_curated_schema_uses_import_schema_gen():
    p = pipeline.create_pipeline(_config(schema="schemas/shop.pbtxt"), "/root", "/serving")
    gen = next(c for c in p.components if c.id == "SchemaGen")
    assert type(gen).__name__ == "ImportSchemaGen"
    assert gen.exec_properties["schema_file"] == "/data/schemas/shop.pbtxt"


def test_module_paths_resolve_from_the_installed_package():
    for path in (pipeline.PREPROCESSING_FN, pipeline.RUN_FN):
        module, _, name = path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def test_trainer_config_is_recorded():
    config = pipeline.trainer_config(_config(model={"epochs": 3}))
    assert config["model"]["epochs"] == 3
    # "auto" is recorded as given: the Trainer resolves it by measuring.
    assert config["model_name"] == "auto"
    assert config["eval_metric"] == "recall" and config["top_k"] == 10
    # The Tuner tunes the static choice: ids only EASE, with item text the two-tower model.
    assert pipeline.tuner_config(_config())["model_name"] == "ease"
    with_text = _config(items={"path": "/data/items.csv", "text": ["title"]})
    assert pipeline.tuner_config(with_text)["model_name"] == "two_tower"


def _thresholds(config):
    """The blessing thresholds by metric; each on the overall slice only."""
    spec = eval_config.create_eval_config(config).metrics_specs[0]
    found = {}
    for m in spec.metrics:
        assert not m.HasField("threshold"), "a plain threshold would apply to every slice"
        for per_slice in m.per_slice_thresholds:
            assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]
            found[m.class_name + m.config] = per_slice.threshold
    return found, spec


def test_metrics_per_event_type_without_blessing_on_them():
    config = _config()
    assert list(eval_config.create_eval_config(config).slicing_specs) == [tfma.SlicingSpec()]
    with_events = config_from_dict(
        {"name": "t", "interactions": {"path": "/data/i.csv", "event": "ev"}}, base_dir="/data"
    )
    slices = list(eval_config.create_eval_config(with_events).slicing_specs)
    assert slices == [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["event"])]
    thresholds, _ = _thresholds(with_events)
    assert len(thresholds) == 1


def test_retrieval_threshold_sits_on_the_blessing_metric_only():
    thresholds, spec = _thresholds(_config(evaluation={"metric": "ndcg", "value_threshold": 0.1}))
    # The metric groups ranks by user itself, after slicing (modules/evaluation.py).
    assert not spec.query_key
    ((key, threshold),) = thresholds.items()
    assert '"metric": "ndcg"' in key
    assert threshold.value_threshold.lower_bound.value == 0.1
    # The served model is compared per user by the release gate (its paired bootstrap),
    # not by TFMA's one-number change threshold, unless a set gain is asked for.
    assert not threshold.HasField("change_threshold")
    gain = _config(evaluation={"metric": "ndcg", "min_improvement": 0.01})
    ((_, threshold),) = _thresholds(gain)[0].items()
    assert threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert threshold.change_threshold.absolute.value == 0.01


def test_rating_threshold_is_lower_is_better():
    config = _config(task="rating", evaluation={"min_improvement": 0.01})
    thresholds, _ = _thresholds(config)
    ((key, threshold),) = thresholds.items()
    assert key.startswith("RootMeanSquaredError")
    assert threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
    assert threshold.change_threshold.absolute.value == -0.01
    assert eval_config.blessing_metric_name(config) == "root_mean_squared_error"


def test_ranking_reads_every_output_and_log_loss_is_lower_is_better():
    config = _config(task="ranking", evaluation={"metric": "log_loss"})
    thresholds, spec = _thresholds(config)
    names = [json.loads(m.config)["metric"] for m in spec.metrics]
    assert names == ["recall", "ndcg", "mrr", "hit_rate", "auc", "log_loss"]
    ((key, threshold),) = thresholds.items()
    assert '"metric": "log_loss"' in key
    assert threshold.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
    model_spec = eval_config.create_eval_config(config).model_specs[0]
    assert model_spec.prediction_key == ""
    assert eval_config.blessing_metric_name(config) == "log_loss"


def test_sequential_judges_the_rank_of_the_next_item():
    config = _config(task="sequential")
    thresholds, spec = _thresholds(config)
    ((key, _),) = thresholds.items()
    assert '"metric": "hit_rate"' in key
    assert eval_config.create_eval_config(config).model_specs[0].prediction_key == "rank"


def test_tuner_joins_when_trials_are_asked_and_feeds_the_trainer():
    plain = pipeline.create_pipeline(_config(), "/root", "/serving")
    assert "Tuner" not in {c.id for c in plain.components}
    config = _config(
        tuning={"max_trials": 3, "algorithm": "bayesian", "search_space": {"l2": [0, 0.001]}}
    )
    by_id = {c.id: c for c in pipeline.create_pipeline(config, "/root", "/serving").components}
    tuner = by_id["Tuner"]
    assert tuner.exec_properties["tuner_fn"] == pipeline.TUNER_FN
    assert by_id["Trainer"].inputs["hyperparameters"].producer_component_id == "Tuner"
    custom = json.loads(tuner.exec_properties["custom_config"])
    assert custom["tuning"]["search_space"] == {"l2": [0, 0.001]}
    assert (custom["eval_metric"], custom["top_k"]) == ("recall", 10)
