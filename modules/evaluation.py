"""TFMA metric for top-K ranking over the whole catalog, computed per user.

Each eval example's prediction is the rank of its item in its user's full
ranking, from the serving bundle's `serving_default` signature, so the
metrics match what `recommend` returns. The metric's combiner groups the
ranks by user itself (it reads the user id feature): TFMA's own grouping
(`query_key`) would group before slicing, so a slice by event type would take
every eval item of each user with one such event, not that event's items, and
it merges every field of every example in Python, half of the Evaluator's time
at 1M rows. Per-user values come from `recsearch.ranking_metrics` and
are averaged over users.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_model_analysis.utils import util

from recsearch import features as keys
from recsearch import ranking_metrics

CLASS_NAME = "CatalogRanking"
RANK_KEY = "rank"
# Per-example outputs of serving_default averaged per user (no cut-off):
#   auc       share of the user's unseen candidates scored below the item
#   log_loss  -log sigmoid(s_item) - mean over unseen candidates of log(1 - sigmoid(s))
EXAMPLE_METRICS = ("auc", "log_loss")
METRICS = ranking_metrics.METRICS + EXAMPLE_METRICS
# A two-stage bundle's serving_default also gives the rank by retrieval alone;
# metrics over it are the retrieval stage's own ("retrieval_recall@100").
RETRIEVAL_RANK_KEY = "retrieval_rank"
RETRIEVAL_PREFIX = "retrieval_"


def metric_name(metric: str, k: int, rank_key: str = RANK_KEY) -> str:
    """Name of a metric in TFMA's output, for example "recall@10" or "auc"."""
    name = metric if metric in EXAMPLE_METRICS else f"{metric}@{k}"
    return RETRIEVAL_PREFIX + name if rank_key == RETRIEVAL_RANK_KEY else name


class CatalogRanking(metric_types.Metric):
    """One of recall, ndcg, mrr or hit_rate at K, auc or log_loss over the catalog, per user.

    One metric per MetricConfig, so a threshold on one of them (the blessing
    metric) does not apply to the others.
    """

    def __init__(
        self,
        metric: str = "recall",
        top_k: int = 10,
        rank_key: str = RANK_KEY,
        user_key: str = keys.USER_ID,
    ):
        """Creates the metric.

        Args:
          metric: The metric's name.
          top_k: Its cut-off K.
          rank_key: The serving_default output holding each example's rank:
            "rank" (as served) or "retrieval_rank" (a two-stage bundle's
            retrieval stage alone).
          user_key: The feature holding the user id the ranks are grouped by.

        Raises:
          ValueError: On an unknown metric or rank key, or a non-positive top_k.
        """
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        if int(top_k) <= 0:
            raise ValueError(f"top_k must be positive, got {top_k}")
        if rank_key not in (RANK_KEY, RETRIEVAL_RANK_KEY):
            raise ValueError(f"rank_key must be {RANK_KEY!r} or {RETRIEVAL_RANK_KEY!r}")
        if rank_key == RETRIEVAL_RANK_KEY and metric in EXAMPLE_METRICS:
            raise ValueError(f"{metric} is not a rank metric; it has no retrieval-stage form")
        super().__init__(
            _computations,
            metric=metric,
            top_k=int(top_k),
            rank_key=rank_key,
            user_key=user_key,
            name=metric_name(metric, int(top_k), rank_key),
        )


metric_types.register_metric(CatalogRanking)


def user_feature(metric: config_pb2.MetricConfig) -> str | None:
    """The feature a `CatalogRanking` metric config groups ranks by; None for other metrics."""
    if metric.class_name != CLASS_NAME:
        return None
    return CatalogRanking(**json.loads(metric.config or "{}")).kwargs["user_key"]


def _computations(
    metric: str,
    top_k: int,
    rank_key: str,
    user_key: str,
    name: str,
    eval_config: config_pb2.EvalConfig | None = None,
    model_names: list[str] | None = None,
    output_names: list[str] | None = None,
    sub_keys: list | None = None,
    example_weighted: bool = False,
    query_key: str = "",
) -> metric_types.MetricComputations:
    if query_key:
        raise ValueError(
            f"{CLASS_NAME} groups ranks by user itself (feature {user_key!r}); its MetricsSpec "
            f"must not set a query_key (got {query_key!r}), which would group before slicing"
        )
    computations = []
    for model_name in model_names or [""]:
        key = metric_types.MetricKey(
            name=name,
            model_name=model_name,
            example_weighted=example_weighted,
        )
        computations.append(
            metric_types.MetricComputation(
                keys=[key],
                preprocessors=[metric_types.FeaturePreprocessor(feature_keys=[user_key])],
                combiner=_CatalogRankingCombiner(
                    key, metric, top_k, eval_config, model_name, rank_key, user_key
                ),
            )
        )
    return computations


class _Accumulator:
    """Each user's values (ranks, or per-example auc or log loss), by user id."""

    __slots__ = ("by_user",)

    def __init__(self):
        self.by_user: dict[bytes, list[float]] = {}


class _CatalogRankingCombiner(beam.CombineFn):
    """Collects each user's values, then averages the per-user metric over users."""

    def __init__(
        self, key, metric, top_k, eval_config, model_name, rank_key=RANK_KEY, user_key=keys.USER_ID
    ):
        self._key = key
        self._metric = metric
        self._top_k = top_k
        self._model_name = model_name
        self._user_key = user_key
        # A ModelSpec without a prediction_key hands over every output; then
        # each metric reads its own (rank, retrieval_rank, auc or log_loss).
        self._prediction_key = metric if metric in EXAMPLE_METRICS else rank_key
        if eval_config is not None and metric not in EXAMPLE_METRICS and rank_key == RANK_KEY:
            for spec in eval_config.model_specs:
                if spec.prediction_key and (
                    len(eval_config.model_specs) == 1 or spec.name == model_name
                ):
                    self._prediction_key = spec.prediction_key

    def _values(self, element: metric_types.StandardMetricInputs) -> np.ndarray:
        prediction = element.prediction
        if self._model_name and isinstance(prediction, dict) and self._model_name in prediction:
            prediction = prediction[self._model_name]
        if isinstance(prediction, dict):
            prediction = util.get_by_keys(prediction, [self._prediction_key])
        return np.asarray(prediction, dtype=np.float64).reshape(-1)

    def _users(self, element: metric_types.StandardMetricInputs) -> np.ndarray:
        return np.asarray(util.get_by_keys(element.features, [self._user_key])).reshape(-1)

    def create_accumulator(self) -> _Accumulator:
        return _Accumulator()

    def add_input(
        self, accumulator: _Accumulator, element: metric_types.StandardMetricInputs
    ) -> _Accumulator:
        values, users = self._values(element), self._users(element)
        for user, value in zip(users.tolist(), values.tolist(), strict=True):
            accumulator.by_user.setdefault(user, []).append(value)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_Accumulator]) -> _Accumulator:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for other in accumulators:
            for user, values in other.by_user.items():
                result.by_user.setdefault(user, []).extend(values)
        return result

    def extract_output(self, accumulator: _Accumulator) -> dict:
        total, users = 0.0, 0
        for values in accumulator.by_user.values():
            value = self._user_value(np.asarray(values, dtype=np.float64))
            if value is not None:
                total += value
                users += 1
        return {self._key: total / max(users, 1)}

    def _user_value(self, values: np.ndarray) -> float | None:
        if self._metric in EXAMPLE_METRICS:
            values = values[np.isfinite(values)]  # an item outside the catalog has no loss
            return float(values.mean()) if values.size else None
        return ranking_metrics.user_metric(values, self._top_k, self._metric)
