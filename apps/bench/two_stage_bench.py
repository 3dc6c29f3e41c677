"""`recsearch bench two-stage`: retrieval alone against retrieval then a ranking network.

The protocol of the freshness benchmark: MovieLens 100K split per user by time,
80/20; the whole pipeline runs on the first 80% with the items' titles and
genres and the users' age, gender and occupation as side tables; each pushed
bundle's `recommend` is scored on the last 20%. The pipeline runs once per
configuration in the same process, on the same files: the retrieval model
alone, and the same retrieval model with a ranker over its first N candidates
(`model.ranker`, modules/two_stage.py), with and without the item ages it reads
(`model.freshness`). A bundle that takes the request's time is asked at each user's
first later interaction (`recommend_at`).
"""

from __future__ import annotations

import os
import time

import yaml

from recsearch.apps import local
from recsearch.apps.bench import docs, freshness_bench
from recsearch.apps.bench.pipeline_bench import header
from recsearch.config import load_config
from recsearch.data import movielens

K = freshness_bench.K
RETRIEVAL = {"name": "ease", "recency_half_life": 10.0}
CONFIGS = {
    "ease (one stage)": RETRIEVAL,
    "ease, then dcn over 100": {
        **RETRIEVAL,
        "ranker": "dcn",
        "rerank_depth": 100,
        "embedding_dim": 32,
    },
    "ease, then dcn over 100 with item ages": {
        **RETRIEVAL,
        "ranker": "dcn",
        "rerank_depth": 100,
        "embedding_dim": 32,
        "freshness": True,
    },
}


def write_config(first, data_dir: str, directory: str, model: dict) -> str:
    """The freshness benchmark's config with the users table and `model`."""
    path = freshness_bench.write_config(first, data_dir, directory)
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    config["users"] = movielens.config_dict(os.path.abspath(data_dir))["users"]
    config["model"] = model
    config["name"] = "movielens-two-stage"
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return path


def run(data_dir: str, output: str, write_docs: str | None = None) -> dict:
    """Runs every configuration; returns (and optionally records) their figures."""
    movielens.check_dir(data_dir)
    first, later = freshness_bench.temporal_split(data_dir)
    rows = {}
    for label, model in CONFIGS.items():
        slug = label.split(" (")[0].replace(", ", "-").replace(" ", "-")
        config = load_config(write_config(first, data_dir, os.path.join(output, slug), model))
        started = time.time()
        summary = local.run(config, os.path.join(output, slug, "run"), enable_cache=False)
        if not summary.pushed_to:
            raise RuntimeError(f"{label}: the pipeline pushed nothing: {summary.reasons}")
        served, _ = freshness_bench.served_metrics(summary.serving_dir, first, later)
        rows[label] = {
            "served": served,
            "evaluator": {
                name: value
                for name, value in summary.metrics.items()
                if name.split("@")[0] in ("recall", "ndcg", "retrieval_recall", "retrieval_ndcg")
            },
            "seconds": round(time.time() - started, 1),
        }
    result = {
        **header("recsearch bench two-stage --data-dir <movielens-100k>"),
        "rows": {"first": len(first), "later": len(later)},
        "configs": CONFIGS,
        "models": rows,
    }
    return docs.record(result, table(result), output, "two-stage", write_docs)


def table(result: dict) -> str:
    base = next(iter(result["models"].values()))["served"]["ndcg"]
    lines = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}`. "
        f"Each pipeline ran on each user's first 80% ({result['rows']['first']} interactions); "
        f"its pushed bundle's `recommend` scored on the last 20% ({result['rows']['later']}).",
        "",
        f"| configuration | Recall@{K} | NDCG@{K} | NDCG against one stage | "
        "Evaluator (inner eval split) | pipeline seconds |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in result["models"].items():
        m = row["served"]
        judged = ", ".join(f"{k} {v:.4f}" for k, v in sorted(row["evaluator"].items()))
        lines.append(
            f"| {label} | {m['recall']:.4f} | {m['ndcg']:.4f} | {m['ndcg'] / base:.2f}x | "
            f"{judged} | {row['seconds']} |"
        )
    return "\n".join(lines)
