"""TFMA metric for top-K ranking over the whole catalog, computed per user.

The Evaluator groups eval examples by user (`query_key: user_id`). Each
example's prediction is the rank of its item in that user's full ranking,
from the serving bundle's `serving_default` signature, so the metrics match
what `recommend` returns. Per-user values come from
`recsearch.modules.ranking_metrics` and are averaged over users.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_model_analysis.utils import util

from recsearch.modules import ranking_metrics

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

    def __init__(self, metric: str = "recall", top_k: int = 10, rank_key: str = RANK_KEY):
        """Creates the metric.

        Args:
          metric: The metric's name.
          top_k: Its cut-off K.
          rank_key: The serving_default output holding each example's rank:
            "rank" (as served) or "retrieval_rank" (a two-stage bundle's
            retrieval stage alone).

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
            name=metric_name(metric, int(top_k), rank_key),
        )


metric_types.register_metric(CatalogRanking)


def _computations(
    metric: str,
    top_k: int,
    rank_key: str,
    name: str,
    eval_config: config_pb2.EvalConfig | None = None,
    model_names: list[str] | None = None,
    output_names: list[str] | None = None,
    sub_keys: list | None = None,
    example_weighted: bool = False,
    query_key: str = "",
) -> metric_types.MetricComputations:
    if not query_key:
        raise ValueError(f"{CLASS_NAME} needs a query_key (the user id feature) in its MetricsSpec")
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
                preprocessors=None,
                combiner=_CatalogRankingCombiner(
                    key, metric, top_k, eval_config, model_name, rank_key
                ),
            )
        )
    return computations


class _Accumulator:
    __slots__ = ("total", "users")

    def __init__(self):
        self.total = 0.0
        self.users = 0


class _CatalogRankingCombiner(beam.CombineFn):
    """Combines one query (all of a user's eval examples) at a time."""

    def __init__(self, key, metric, top_k, eval_config, model_name, rank_key=RANK_KEY):
        self._key = key
        self._metric = metric
        self._top_k = top_k
        self._model_name = model_name
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

    def create_accumulator(self) -> _Accumulator:
        return _Accumulator()

    def add_input(
        self, accumulator: _Accumulator, element: metric_types.StandardMetricInputs
    ) -> _Accumulator:
        values = self._values(element)
        if not values.size:
            return accumulator
        if self._metric in EXAMPLE_METRICS:
            values = values[np.isfinite(values)]  # an item outside the catalog has no loss
            if not values.size:
                return accumulator
            accumulator.total += float(values.mean())
        else:
            accumulator.total += ranking_metrics.user_metrics(values, self._top_k)[self._metric]
        accumulator.users += 1
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[_Accumulator]) -> _Accumulator:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for other in accumulators:
            result.total += other.total
            result.users += other.users
        return result

    def extract_output(self, accumulator: _Accumulator) -> dict:
        return {self._key: accumulator.total / max(accumulator.users, 1)}
