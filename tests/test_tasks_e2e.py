"""The ranking and sequential tasks through the whole pipeline on the tiny sample shop.

Each run goes from ExampleGen to the pushed bundle: the ranking task with
DeepFM (judged by NDCG, AUC and log loss), the sequential task with SASRec
(each user's last interaction held out, judged by HR@10).
"""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from recsearch import bundle
from recsearch.apps import local
from recsearch.config import load_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "task, model, index, metrics",
    [
        ("ranking", "deepfm", "brute_force", {"ndcg@10", "auc", "log_loss", "recall@10"}),
        ("sequential", "sasrec", "scann", {"hit_rate@10", "ndcg@10"}),
    ],
)
def test_task_runs_blesses_and_pushes(sample_dir, tmp_path, task, model, index, metrics):
    config = load_config(os.path.join(sample_dir, "config.yaml"))
    config = dataclasses.replace(
        config,
        name=f"shop-{task}",
        task=task,
        model=dataclasses.replace(config.model, name=model, sequence_length=10),
        serving=dataclasses.replace(config.serving, index=index),
    )
    summary = local.run(config, str(tmp_path), quiet=True)
    assert summary.blessed, summary.reasons
    assert metrics <= set(summary.metrics)
    if task == "ranking":
        assert 0.5 < summary.metrics["auc"] <= 1.0
        assert np.isfinite(summary.metrics["log_loss"])
    served = bundle.load(summary.serving_dir)
    out = served.signatures["recommend"](user_id=tf.constant(["u00001", "nobody"]))
    assert out["item_ids"].shape == (2, config.serving.top_k)
    assert np.all(np.diff(out["scores"].numpy(), axis=1) <= 1e-6)
