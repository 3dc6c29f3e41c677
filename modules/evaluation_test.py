"""The TFMA metric: per-user values from ranks, averaged over users, and its wiring."""

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from recsearch.modules import evaluation


def _inputs(ranks):
    return metric_types.StandardMetricInputs(
        labels=None, predictions={"rank": np.array(ranks, dtype=np.float32)}, example_weights=None
    )


def _combine(metric, users):
    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(prediction_key="rank")])
    (computation,) = evaluation.CatalogRanking(metric=metric, top_k=2).computations(
        eval_config=config, query_key="user_id"
    )
    combiner = computation.combiner
    halves = [combiner.create_accumulator(), combiner.create_accumulator()]
    for i, ranks in enumerate(users):
        combiner.add_input(halves[i % 2], _inputs(ranks))
    merged = combiner.merge_accumulators(halves)
    ((key, value),) = combiner.extract_output(merged).items()
    return key, value


def test_recall_and_ndcg_averaged_over_users():
    # User A: ranks 0 and 5 (one hit of two); user B: rank 1 (a hit).
    key, recall = _combine("recall", [[0, 5], [1]])
    assert key.name == "recall@2"
    assert recall == pytest.approx((0.5 + 1.0) / 2)
    _, ndcg = _combine("ndcg", [[0, 5], [1]])
    ideal_a = 1 + 1 / np.log2(3)
    assert ndcg == pytest.approx((1 / ideal_a + (1 / np.log2(3)) / 1.0) / 2)


def test_unknown_metric_and_missing_query_key_raise():
    with pytest.raises(ValueError, match="got 'precision'"):
        evaluation.CatalogRanking(metric="precision")
    with pytest.raises(ValueError, match="query_key"):
        evaluation.CatalogRanking().computations(eval_config=tfma.EvalConfig())


def test_metric_resolves_from_its_module_name():
    config = tfma.MetricConfig(
        class_name=evaluation.CLASS_NAME,
        module=evaluation.__name__,
        config='{"metric": "mrr", "top_k": 5}',
    )
    instance = tfma.metrics.metric_specs.metric_instance(config)
    assert instance.name == "mrr@5"
