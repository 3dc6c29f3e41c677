"""The Evaluator's TFMA config, derived from the task and the blessing rules."""

from __future__ import annotations

import json

import numpy as np
import tensorflow_model_analysis as tfma

from recsearch import features as keys
from recsearch import ranking_metrics
from recsearch.config import PipelineConfig
from recsearch.modules import evaluation

_RATING_METRICS = {"rmse": "root_mean_squared_error", "mae": "mean_absolute_error"}
_RATING_CLASSES = {"rmse": "RootMeanSquaredError", "mae": "MeanAbsoluteError"}


def blessing_metric_name(config: PipelineConfig) -> str:
    """The TFMA metric name that decides the blessing, for example "recall@10"."""
    if config.task == "rating":
        return _RATING_METRICS[config.eval_metric]
    return evaluation.metric_name(config.eval_metric, config.evaluation.top_k)


def _threshold(config: PipelineConfig, higher_is_better: bool) -> tfma.MetricThreshold:
    task = config.task
    direction = (
        tfma.MetricDirection.HIGHER_IS_BETTER
        if higher_is_better
        else tfma.MetricDirection.LOWER_IS_BETTER
    )
    improvement = config.evaluation.min_improvement
    # A value threshold is always set: without any threshold left (the change
    # threshold is dropped when there is no baseline yet), the Evaluator
    # would never bless the first model.
    bound = config.evaluation.value_threshold
    if bound is None:
        bound = 0.0 if higher_is_better else float(np.finfo(np.float64).max)
    side = "lower_bound" if higher_is_better else "upper_bound"
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(**{side: {"value": bound}}),
    )
    # The release gate compares the candidate's per-user ranking metric with the served
    # model's by a paired bootstrap (evaluation.tolerance); TFMA's one-number change
    # threshold applies when a team asks for a set gain (min_improvement), and to the
    # metrics the gate does not compare per user (rating errors, auc, log_loss).
    if improvement or task == "rating" or config.eval_metric not in ranking_metrics.METRICS:
        threshold.change_threshold.CopyFrom(
            tfma.GenericChangeThreshold(
                direction=direction,
                absolute={"value": improvement if higher_is_better else -improvement},
            )
        )
    return threshold


def create_eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """TFMA config: ranking metrics per user for top-K tasks (and AUC and log loss for
    the ranking task), errors for ratings.

    The blessing metric carries a change threshold against the served model
    (ignored on the first run, when nothing is served) and a value
    threshold (`evaluation.value_threshold`, or a bound any value passes).
    """
    if config.task == "rating":
        metrics = [
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="RootMeanSquaredError"),
            tfma.MetricConfig(class_name="MeanAbsoluteError"),
        ]
        for metric_config in metrics:
            if metric_config.class_name == _RATING_CLASSES[config.eval_metric]:
                _bless_on_overall(metric_config, _threshold(config, False))
        spec = tfma.MetricsSpec(metrics=metrics)
        model_spec = tfma.ModelSpec(
            signature_name="serving_default", label_key=keys.RATING, prediction_key="score"
        )
    else:
        # Ranking reads rank, auc and log_loss (no prediction_key: every
        # output reaches the metrics); retrieval and sequential read the rank.
        names = ranking_metrics.METRICS
        if config.task == "ranking":
            names += evaluation.EXAMPLE_METRICS
        metrics = []
        for metric in names:
            metric_config = tfma.MetricConfig(
                class_name=evaluation.CLASS_NAME,
                module=evaluation.__name__,
                config=json.dumps({"metric": metric, "top_k": config.evaluation.top_k}),
            )
            if metric == config.eval_metric:
                _bless_on_overall(metric_config, _threshold(config, metric != "log_loss"))
            metrics.append(metric_config)
        two_stage = config.model.ranker is not None
        if two_stage:
            metrics += _retrieval_stage_metrics(config)
        spec = tfma.MetricsSpec(metrics=metrics)
        every_output = config.task == "ranking" or two_stage
        model_spec = tfma.ModelSpec(
            signature_name="serving_default",
            prediction_key="" if every_output else evaluation.RANK_KEY,
        )
    slices = [tfma.SlicingSpec()]
    if config.interactions.event:
        # Every metric per event type too: purchase recall beside any-event recall.
        slices.append(tfma.SlicingSpec(feature_keys=[keys.EVENT]))
    return tfma.EvalConfig(model_specs=[model_spec], slicing_specs=slices, metrics_specs=[spec])


def _retrieval_stage_metrics(config: PipelineConfig) -> list[tfma.MetricConfig]:
    """A two-stage bundle's retrieval stage on its own: recall at the rerank depth (the
    most the ranker can find), and the blessing metric at K before reranking."""
    wanted = [("recall", config.model.rerank_depth)]
    if config.eval_metric in ranking_metrics.METRICS:
        wanted.append((config.eval_metric, config.evaluation.top_k))
    return [
        tfma.MetricConfig(
            class_name=evaluation.CLASS_NAME,
            module=evaluation.__name__,
            config=json.dumps(
                {"metric": metric, "top_k": k, "rank_key": evaluation.RETRIEVAL_RANK_KEY}
            ),
        )
        for metric, k in wanted
    ]


def _bless_on_overall(metric_config: tfma.MetricConfig, threshold: tfma.MetricThreshold) -> None:
    """The blessing threshold, on the overall slice only (not on each event type's)."""
    metric_config.per_slice_thresholds.add(slicing_specs=[tfma.SlicingSpec()]).threshold.CopyFrom(
        threshold
    )
