"""`recsearch bench pipeline`: the whole pipeline on MovieLens 100K, timed, against popularity.

The pipeline runs with caching off. Popularity and EASE are scored on the very
split RecsysExampleGen writes (same code, same data) with the same metric
code the Evaluator uses. The pushed bundle is also scored offline from the
eval examples, as a cross-check of the Evaluator's figures.
"""

from __future__ import annotations

import collections
import os
import platform
import resource
import time

import numpy as np

from recsearch import local
from recsearch.bench import baselines, docs
from recsearch.components.recsys_example_gen import executor
from recsearch.data import movielens
from recsearch.modules import ranking_metrics
from recsearch.results import latest_artifact_uri


def bundle_metrics(serving_dir: str, examples_uri: str, k: int) -> dict[str, float]:
    """Ranking metrics of a pushed bundle, from its serving_default ranks on the eval split."""
    import tensorflow as tf

    from recsearch import bundle

    model = bundle.load(serving_dir)
    files = tf.io.gfile.glob(os.path.join(examples_uri, "Split-eval", "*"))
    ranks = collections.defaultdict(list)
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096):
        out = model.signatures["serving_default"](examples=batch)["rank"].numpy()
        users = tf.io.parse_example(batch, {"user_id": tf.io.FixedLenFeature([], tf.string)})
        for user, rank in zip(users["user_id"].numpy(), out):
            ranks[user].append(rank)
    return ranking_metrics.mean_metrics([np.array(r) for r in ranks.values()], k)


def machine() -> str:
    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {cpus} cores, {memory:.0f} GiB, {platform.platform()}"


def run(data_dir: str, output: str, write_docs: str | None = None) -> dict:
    """Runs the benchmark; returns (and optionally records) its figures."""
    config = movielens.movielens_config(data_dir)
    started = time.time()
    summary = local.run(config, output, enable_cache=False)
    wall = time.time() - started
    k = config.evaluation.top_k
    parts = executor.build_splits(config, config.resolve(config.interactions.path))
    data = baselines.InteractionMatrix(parts["train"])
    held = parts["eval"]
    examples = latest_artifact_uri(
        os.path.join(os.path.abspath(output), "metadata.sqlite"),
        config.name,
        "Examples",
        producer="RecsysExampleGen",
    )
    result = {
        "command": "recsearch bench pipeline --data-dir <movielens-100k>",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "components": {name: round(s, 1) for name, s in summary.timings.items()},
        "rows": {"train": len(parts["train"]), "eval": len(held), "users": held.user_id.nunique()},
        "models": {
            "two-tower (Evaluator)": {m: summary.metrics[f"{m}@{k}"] for m in ("recall", "ndcg")},
            "two-tower (bundle, offline)": bundle_metrics(summary.serving_dir, examples, k),
            "popularity": baselines.evaluate_scores(data, held, baselines.popularity_scores(data)),
            "EASE (l2=100)": baselines.evaluate_scores(data, held, baselines.ease_scores(data)),
        },
        "blessed": summary.blessed,
    }
    return docs.record(result, docs.pipeline_table(result), output, "pipeline", write_docs)
