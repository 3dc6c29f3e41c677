"""The Evaluator's extractors: TFMA's own, with each batch cut to what the metrics read.

TFX's Evaluator imports `custom_extractors` from this module (the component's
`module_path`). Every field of a batch travels on through TFMA's unbatching,
slicing and metric inputs, example by example in Python: the serialized example,
each raw feature, the Transform's outputs and every output of both models.
Before the batches are split into examples, this drops what no metric, slice
or query reads: the serialized input, the transformed features, every feature
but the user id and the slicing features, and, for a model whose spec names a
`prediction_key`, its other outputs. On the 1M sample shop's eval split (one
process, profiled) that took the Evaluator from 93 to 79 s.
"""

from __future__ import annotations

import apache_beam as beam
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis import constants
from tensorflow_model_analysis.extractors import extractor, unbatch_extractor
from tensorflow_model_analysis.proto import config_pb2

from recsearch.modules import evaluation

STAGE_NAME = "KeepWhatMetricsRead"
# Batch fields no metric reads once the predictions are made.
DROPPED = (constants.INPUT_KEY, constants.TRANSFORMED_FEATURES_KEY)


def custom_extractors(
    eval_shared_model, eval_config: config_pb2.EvalConfig, tensor_adapter_config=None
) -> list[extractor.Extractor]:
    """TFMA's default extractors, with `keep_what_metrics_read` before the batches are split."""
    extractors = tfma.default_extractors(
        eval_shared_model=eval_shared_model,
        eval_config=eval_config,
        tensor_adapter_config=tensor_adapter_config,
    )
    names = [e.stage_name for e in extractors]
    at = names.index(unbatch_extractor.UNBATCH_EXTRACTOR_STAGE_NAME)
    prune = extractor.Extractor(
        stage_name=STAGE_NAME,
        ptransform=_KeepWhatMetricsRead(features_read(eval_config), outputs_read(eval_config)),
    )
    return [*extractors[:at], prune, *extractors[at:]]


def features_read(eval_config: config_pb2.EvalConfig) -> frozenset[str]:
    """The features the evaluation reads: slicing features, query keys, and the user id of
    the ranking metrics (`modules/evaluation.py`; the only metrics here that read one)."""
    specs = list(eval_config.slicing_specs)
    for cross in eval_config.cross_slicing_specs:
        specs += [cross.baseline_spec, *cross.slicing_specs]
    names = {key for spec in specs for key in (*spec.feature_keys, *spec.feature_values)}
    names.update(m.query_key for m in eval_config.metrics_specs if m.query_key)
    users = (evaluation.user_feature(m) for spec in eval_config.metrics_specs for m in spec.metrics)
    names.update(user for user in users if user)
    return frozenset(names)


def outputs_read(eval_config: config_pb2.EvalConfig) -> dict[str, str]:
    """{model name: its one output the metrics read}, for the model specs that name one.

    A single model's predictions are not keyed by its name: its entry is under "".
    """
    specs = eval_config.model_specs
    return {
        ("" if len(specs) == 1 else spec.name): spec.prediction_key
        for spec in specs
        if spec.prediction_key
    }


def keep_what_metrics_read(batch: dict, features: frozenset[str], outputs: dict[str, str]) -> dict:
    """A batched extract without the fields in DROPPED, the features not in `features`,
    and the outputs of each model in `outputs` but the one named there."""
    kept = {key: value for key, value in batch.items() if key not in DROPPED}
    if isinstance(kept.get(constants.FEATURES_KEY), dict):
        kept[constants.FEATURES_KEY] = {
            name: value for name, value in kept[constants.FEATURES_KEY].items() if name in features
        }
    predictions = kept.get(constants.PREDICTIONS_KEY)
    if isinstance(predictions, dict):
        kept[constants.PREDICTIONS_KEY] = _only(predictions, outputs)
    return kept


def _only(predictions: dict, outputs: dict[str, str]) -> dict:
    if "" in outputs:  # one model: its outputs by name
        return _one_output(predictions, outputs[""])
    return {
        model: _one_output(value, outputs[model]) if model in outputs else value
        for model, value in predictions.items()
    }


def _one_output(value, key: str):
    return {key: value[key]} if isinstance(value, dict) and key in value else value


@beam.ptransform_fn
def _KeepWhatMetricsRead(
    extracts: beam.PCollection, features: frozenset[str], outputs: dict[str, str]
):
    return extracts | "Keep" >> beam.Map(keep_what_metrics_read, features, outputs)
