"""The Evaluator's extractors: TFMA's, with each batch cut to what the metrics read."""

import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.extractors import unbatch_extractor

from recsearch.components.evaluator import extractors
from recsearch.components.evaluator.eval_config import create_eval_config


def _batch(predictions):
    return {
        constants.INPUT_KEY: np.array([b"serialized", b"examples"]),
        constants.FEATURES_KEY: {
            "user_id": np.array([b"u1", b"u2"]),
            "event": np.array([b"view", b"purchase"]),
            "text": np.array([b"long item text", b"more text"]),
        },
        constants.TRANSFORMED_FEATURES_KEY: {"user_id": np.array([3, 4])},
        constants.LABELS_KEY: None,
        constants.PREDICTIONS_KEY: predictions,
    }


def test_the_sample_shop_reads_the_user_and_the_event(sample_config):
    # The ranking metrics group by user; the event slices.
    assert extractors.features_read(create_eval_config(sample_config)) == {"user_id", "event"}
    config = tfma.EvalConfig(
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(
                        class_name="CatalogRanking", config='{"metric": "mrr", "user_key": "v"}'
                    )
                ]
            )
        ]
    )
    assert extractors.features_read(config) == {"v"}


def test_a_batch_keeps_the_read_features_and_each_models_named_output():
    outputs = {"candidate": "rank", "baseline": "rank"}
    predictions = {
        "candidate": {"rank": np.array([1.0, 7.0]), "score": np.array([0.3, 0.1])},
        "baseline": {"rank": np.array([2.0, 5.0]), "auc": np.array([0.9, 0.4])},
    }
    kept = extractors.keep_what_metrics_read(
        _batch(predictions), frozenset({"user_id", "event"}), outputs
    )
    assert set(kept) == {constants.FEATURES_KEY, constants.LABELS_KEY, constants.PREDICTIONS_KEY}
    assert set(kept[constants.FEATURES_KEY]) == {"user_id", "event"}
    np.testing.assert_array_equal(kept[constants.FEATURES_KEY]["user_id"], [b"u1", b"u2"])
    assert {m: set(v) for m, v in kept[constants.PREDICTIONS_KEY].items()} == {
        "candidate": {"rank"},
        "baseline": {"rank"},
    }
    np.testing.assert_array_equal(kept[constants.PREDICTIONS_KEY]["baseline"]["rank"], [2.0, 5.0])


def test_one_model_keeps_its_named_output_and_every_output_without_one():
    predictions = {"rank": np.array([1.0]), "auc": np.array([0.5])}
    one = extractors.keep_what_metrics_read(_batch(predictions), frozenset(), {"": "rank"})
    assert set(one[constants.PREDICTIONS_KEY]) == {"rank"}
    assert one[constants.FEATURES_KEY] == {}
    # No prediction_key (ranking and two-stage read several outputs): all are kept.
    every = extractors.keep_what_metrics_read(_batch(predictions), frozenset(), {})
    assert set(every[constants.PREDICTIONS_KEY]) == {"rank", "auc"}


def test_outputs_read_follow_the_model_specs():
    one = tfma.EvalConfig(model_specs=[tfma.ModelSpec(prediction_key="rank")])
    assert extractors.outputs_read(one) == {"": "rank"}
    two = tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(name="candidate", prediction_key="rank"),
            tfma.ModelSpec(name="baseline", prediction_key="rank", is_baseline=True),
        ]
    )
    assert extractors.outputs_read(two) == {"candidate": "rank", "baseline": "rank"}
    assert extractors.outputs_read(tfma.EvalConfig(model_specs=[tfma.ModelSpec()])) == {}


def test_the_cut_comes_right_before_the_batches_are_split(sample_config):
    # As TFX's Evaluator hands it over on a first run.
    config = tfma.utils.update_eval_config_with_defaults(
        create_eval_config(sample_config), has_baseline=False, rubber_stamp=True
    )
    names = [e.stage_name for e in extractors.custom_extractors(None, config)]
    at = names.index(extractors.STAGE_NAME)
    assert names[at + 1] == unbatch_extractor.UNBATCH_EXTRACTOR_STAGE_NAME
    default = [e.stage_name for e in tfma.default_extractors(eval_config=config)]
    assert names[:at] + names[at + 1 :] == default
