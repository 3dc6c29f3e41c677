"""The TFMA metric: per-user values from ranks, averaged over users, and its wiring."""

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from recsearch.modules import evaluation


def _inputs(user, rank):
    return metric_types.StandardMetricInputs(
        labels=None,
        predictions={"rank": np.array([rank], dtype=np.float32)},
        example_weights=None,
        features={"user_id": np.array([user])},
    )


def _combine(metric, examples):
    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(prediction_key="rank")])
    (computation,) = evaluation.CatalogRanking(metric=metric, top_k=2).computations(
        eval_config=config
    )
    combiner = computation.combiner
    halves = [combiner.create_accumulator(), combiner.create_accumulator()]
    for i, (user, rank) in enumerate(examples):
        combiner.add_input(halves[i % 2], _inputs(user, rank))
    merged = combiner.merge_accumulators(halves)
    ((key, value),) = combiner.extract_output(merged).items()
    return key, value


def test_recall_and_ndcg_averaged_over_users():
    # User A: ranks 0 and 5 (one hit of two); user B: rank 1 (a hit). A's two examples
    # land in different accumulators, so merging must put them back together.
    examples = [(b"A", 0), (b"B", 1), (b"A", 5)]
    key, recall = _combine("recall", examples)
    assert key.name == "recall@2"
    assert recall == pytest.approx((0.5 + 1.0) / 2)
    _, ndcg = _combine("ndcg", examples)
    ideal_a = 1 + 1 / np.log2(3)
    assert ndcg == pytest.approx((1 / ideal_a + (1 / np.log2(3)) / 1.0) / 2)


def test_unknown_metric_and_a_query_key_raise():
    with pytest.raises(ValueError, match="got 'precision'"):
        evaluation.CatalogRanking(metric="precision")
    # TFMA's query_key would group a user's examples before slicing them.
    with pytest.raises(ValueError, match="must not set a query_key"):
        evaluation.CatalogRanking().computations(eval_config=tfma.EvalConfig(), query_key="u")


def test_metric_resolves_from_its_module_name():
    config = tfma.MetricConfig(
        class_name=evaluation.CLASS_NAME,
        module=evaluation.__name__,
        config='{"metric": "mrr", "top_k": 5}',
    )
    instance = tfma.metrics.metric_specs.metric_instance(config)
    assert instance.name == "mrr@5"


def test_user_feature_is_what_the_metric_groups_by():
    ranking = tfma.MetricConfig(class_name=evaluation.CLASS_NAME, config='{"metric": "ndcg"}')
    assert evaluation.user_feature(ranking) == "user_id"
    ranking.config = '{"metric": "ndcg", "user_key": "visitor"}'
    assert evaluation.user_feature(ranking) == "visitor"
    assert evaluation.user_feature(tfma.MetricConfig(class_name="ExampleCount")) is None
