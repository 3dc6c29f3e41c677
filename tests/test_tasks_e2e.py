"""The ranking and sequential tasks, and two stages, through the whole pipeline.

Each run, on the tiny sample shop, goes from ExampleGen to the pushed bundle: the ranking task with
DeepFM (judged by NDCG, AUC and log loss), the sequential task with SASRec
(each user's last interaction held out, judged by HR@10), and two stages:
two-tower retrieval with a DCN ranker over its first 20 candidates, served
through a ScaNN index (judged as served, and the retrieval stage on its own).
"""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from recsearch import bundle
from recsearch.apps import local
from recsearch.config import load_config
from recsearch.config.trainer_settings import with_values

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "task, model, index, metrics",
    [
        (
            "ranking",
            {"name": "deepfm"},
            "brute_force",
            {"ndcg@10", "auc", "log_loss", "recall@10"},
        ),
        ("sequential", {"name": "sasrec", "sequence_length": 10}, "scann", {"hit_rate@10"}),
        (
            "retrieval",
            {"name": "two_tower", "ranker": "dcn", "rerank_depth": 20, "epochs": 4},
            "scann",
            {"recall@10", "retrieval_recall@20", "retrieval_recall@10"},
        ),
    ],
    ids=["ranking", "sequential", "two_stage"],
)
def test_task_runs_blesses_and_pushes(sample_dir, tmp_path, task, model, index, metrics):
    config = load_config(os.path.join(sample_dir, "config.yaml"))
    config = dataclasses.replace(
        config,
        name=f"shop-{task}",
        task=task,
        model=with_values(config.model, model),
        serving=dataclasses.replace(config.serving, index=index),
    )
    summary = local.run(config, str(tmp_path), quiet=True)
    assert summary.blessed, summary.reasons
    assert metrics <= set(summary.metrics)
    if "ranker" in model:
        # The ranker orders the retrieval stage's first 20: its top 10 are among them.
        assert summary.metrics["recall@10"] <= summary.metrics["retrieval_recall@20"] + 1e-9
    if task == "ranking":
        assert 0.5 < summary.metrics["auc"] <= 1.0
        assert np.isfinite(summary.metrics["log_loss"])
    served = bundle.load(summary.serving_dir)
    out = served.signatures["recommend"](user_id=tf.constant(["u00001", "nobody"]))
    assert out["item_ids"].shape == (2, config.serving.top_k)
    assert np.all(np.diff(out["scores"].numpy(), axis=1) <= 1e-6)
