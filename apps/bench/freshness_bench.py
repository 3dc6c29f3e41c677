"""`recsearch bench freshness`: the whole pipeline as a user runs it, scored on later data.

MovieLens 100K is split per user by time, 80/20 (the protocol of
shared/MEASURED.md: every rating is an interaction, test items never seen in
the 80% are dropped). The pipeline runs on the first 80% only, with the
default config (no `model:` section) and the item titles and genres as the
items table. The pushed bundle's `recommend` is then scored on the last 20%,
over the whole catalog with each user's 80% excluded, next to popularity and
EASE trained on the same 80% in the same run.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import yaml

from recsearch import features as keys
from recsearch import ranking_metrics
from recsearch.apps import local
from recsearch.apps.bench import baselines, docs
from recsearch.config import Split, load_config
from recsearch.data import movielens, splits

K = 10


def temporal_split(data_dir: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 80% each user logged first, and their last 20% (items unseen in the 80% dropped)."""
    log = pd.read_csv(
        os.path.join(data_dir, "u.data"),
        sep="\t",
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype={"user_id": str, "item_id": str},
    )
    split = Split(method="temporal", eval_fraction=0.2, drop_unseen_items=True)
    parts = splits.split_interactions(log, split, task="rating")
    return parts[splits.TRAIN], parts[splits.EVAL]


def write_config(first: pd.DataFrame, data_dir: str, directory: str) -> str:
    """The 80% as a CSV and a default config over it, as a user would write them."""
    os.makedirs(directory, exist_ok=True)
    first.to_csv(os.path.join(directory, "ratings.csv"), index=False)
    preset = movielens.config_dict(os.path.abspath(data_dir))
    config = {
        "name": "movielens-fresh",
        "interactions": {
            "path": "ratings.csv",
            "user": "user_id",
            "item": "item_id",
            "rating": "rating",
            "timestamp": "timestamp",
        },
        "items": {**preset["items"], "text": ["title"], "numeric": list(movielens.GENRES)},
    }
    path = os.path.join(directory, "config.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return path


def served_metrics(
    serving_dir: str, first: pd.DataFrame, later: pd.DataFrame
) -> tuple[dict[str, float], int]:
    """Metrics of the pushed bundle's `recommend` on the later data; consumed items served.

    A bundle that takes the request's time (`recommend_at`: a ranking stage with
    item ages) is asked at each user's first later interaction, when they came back.
    """
    import tensorflow as tf

    from recsearch import bundle

    model = bundle.load(serving_dir)
    seen = first.groupby(keys.USER_ID)[keys.ITEM_ID].agg(set)
    relevant = later.groupby(keys.USER_ID)[keys.ITEM_ID].agg(set)
    came_back = later.groupby(keys.USER_ID)[keys.TIMESTAMP].min()
    users = sorted(relevant.index)
    ranks, consumed = [], 0
    for start in range(0, len(users), 256):
        batch = users[start : start + 256]
        if "recommend_at" in model.signatures:
            out = model.signatures["recommend_at"](
                user_id=tf.constant(batch),
                request_time=tf.constant(came_back[batch].to_numpy(np.int64)),
            )
        else:
            out = model.signatures["recommend"](user_id=tf.constant(batch))
        out = out["item_ids"].numpy()
        for user, row in zip(batch, out):
            top = [v.decode() for v in row[:K]]
            consumed += len(set(top) & seen.get(user, set()))
            position = {item: r for r, item in enumerate(top)}
            # Items outside the top K get a rank of K or more: misses.
            ranks.append(np.array([position.get(i, K + n) for n, i in enumerate(relevant[user])]))
    return ranking_metrics.mean_metrics(ranks, K), consumed


def run(data_dir: str, output: str, write_docs: str | None = None) -> dict:
    """Runs the benchmark; returns (and optionally records) its figures."""
    from recsearch.apps.bench.pipeline_bench import header

    movielens.check_dir(data_dir)
    first, later = temporal_split(data_dir)
    config = load_config(write_config(first, data_dir, os.path.join(output, "data")))
    started = time.time()
    summary = local.run(config, os.path.join(output, "run"), enable_cache=False)
    wall = time.time() - started
    if not summary.pushed_to:
        raise RuntimeError(f"the pipeline pushed nothing: {summary.reasons}")
    served, consumed = served_metrics(summary.serving_dir, first, later)
    chosen = next(
        (line.split(":")[0] for line in summary.selection if "serves recommend" in line),
        config.model_name,
    )
    data = baselines.InteractionMatrix(first)
    result = {
        **header("recsearch bench freshness --data-dir <movielens-100k>"),
        "wall_seconds": round(wall, 1),
        "model": chosen,
        "selection": summary.selection,
        "served_data": summary.served_data,
        "rows": {"first": len(first), "later": len(later), "users": later.user_id.nunique()},
        "consumed_items_served": consumed,
        "models": {
            f"pushed bundle (auto chose {chosen})": served,
            "popularity": baselines.evaluate_scores(data, later, baselines.popularity_scores(data)),
            "EASE (l2=100)": baselines.evaluate_scores(data, later, baselines.ease_scores(data)),
        },
    }
    return docs.record(result, table(result), output, "freshness", write_docs)


def table(result: dict) -> str:
    ease = result["models"]["EASE (l2=100)"]["recall"]
    rows = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}`.",
        f"The pipeline ran on each user's first 80% ({result['rows']['first']} interactions) in "
        f"{result['wall_seconds']} s; scored on the last 20% ({result['rows']['later']} "
        f"interactions, {result['rows']['users']} users). {result['served_data']} "
        f"Already-consumed items in the served top-{K} lists: {result['consumed_items_served']}.",
        "",
        "Model auto compared, on each user's latest training interactions: "
        + "; ".join(result["selection"])
        + ".",
        "",
        f"| model | Recall@{K} | NDCG@{K} | Recall against EASE |",
        "|---|---|---|---|",
        *[
            f"| {name} | {m['recall']:.4f} | {m['ndcg']:.4f} | {m['recall'] / ease:.2f}x |"
            for name, m in result["models"].items()
        ],
    ]
    return "\n".join(rows)
