"""Reading a run's artifacts into plain tables for the report."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from recsearch import features as keys
from recsearch import ranking_metrics

ACTIVITY_BUCKETS = ((1, 5), (6, 20), (21, 50), (51, 10**9))
POPULARITY_BUCKETS = ("head (top 20% of items)", "torso (next 30%)", "tail (last 50%)")


def split_statistics(statistics_uri: str) -> dict[str, pd.DataFrame]:
    """One frame per split: a row per feature with its type and summary figures."""
    result = {}
    for directory in sorted(tf.io.gfile.glob(os.path.join(statistics_uri, "Split-*"))):
        split = os.path.basename(directory.rstrip("/"))[len("Split-") :]
        stats = tfdv.load_stats_binary(os.path.join(directory, "FeatureStats.pb"))
        dataset = stats.datasets[0]
        rows = []
        for feature in dataset.features:
            name = ".".join(feature.path.step)
            if feature.HasField("num_stats"):
                s = feature.num_stats
                common = s.common_stats
                summary = (
                    f"mean {s.mean:.3g}, std {s.std_dev:.3g}, min {s.min:.3g}, max {s.max:.3g}"
                )
                kind = "number"
            elif feature.HasField("string_stats"):
                s = feature.string_stats
                common = s.common_stats
                values = [v.value for v in s.top_values[:3]]
                if s.unique <= 1 and not any(values):
                    summary = "empty in every row"
                else:
                    top = ", ".join(v if v else '""' for v in values)
                    summary = f"{s.unique} unique; most frequent: {top}"
                kind = "string"
            else:
                continue
            total = common.num_non_missing + common.num_missing
            missing = common.num_missing / total if total else 0.0
            rows.append({"feature": name, "type": kind, "missing": missing, "summary": summary})
        frame = pd.DataFrame(rows)
        frame.attrs["examples"] = int(dataset.num_examples)
        result[split] = frame
    return result


def with_catalog_content(train: pd.DataFrame, catalog: pd.DataFrame | None) -> pd.DataFrame:
    """The train split's feature table, with item side features described from the catalog.

    Interactions carry item text and images empty (each item's content is read
    once, from the catalog split), so the train split alone would show them as
    blank.
    """
    if catalog is None or catalog.empty or train.empty:
        return train
    described = catalog.set_index("feature")
    table = train.copy()
    for row, name in table["feature"].items():
        if name.startswith("item__") and name in described.index:
            table.loc[row, "missing"] = described.loc[name, "missing"]
            table.loc[row, "summary"] = (
                f"{described.loc[name, 'summary']} (per item, from the catalog split)"
            )
    return table


def schema_changes(current: schema_pb2.Schema, previous: schema_pb2.Schema | None) -> list[str]:
    """Features added, removed or changed in type or domain since the previous schema."""
    if previous is None:
        return []
    now = {f.name: f for f in current.feature}
    before = {f.name: f for f in previous.feature}
    changes = [f"added feature '{n}'" for n in sorted(set(now) - set(before))]
    changes += [f"removed feature '{n}'" for n in sorted(set(before) - set(now))]
    for name in sorted(set(now) & set(before)):
        a, b = before[name], now[name]
        if a.type != b.type:
            changes.append(
                f"'{name}' changed type from {schema_pb2.FeatureType.Name(a.type)} "
                f"to {schema_pb2.FeatureType.Name(b.type)}"
            )
    domains_before = {d.name: set(d.value) for d in previous.string_domain}
    for domain in current.string_domain:
        added = set(domain.value) - domains_before.get(domain.name, set(domain.value))
        if added:
            shown = ", ".join(sorted(added)[:5])
            changes.append(f"domain '{domain.name}' gained {len(added)} values ({shown})")
    return changes


def read_schema(schema_uri: str | None) -> schema_pb2.Schema | None:
    if not schema_uri:
        return None
    files = tf.io.gfile.glob(os.path.join(schema_uri, "*.pbtxt"))
    return tfdv.load_schema_text(files[0]) if files else None


def training_history(model_run_uri: str, name: str = "training_history.json") -> dict:
    """The Trainer's record of one training (the candidate's, or the refit's by `name`)."""
    path = os.path.join(model_run_uri, name)
    if not tf.io.gfile.exists(path):
        return {"loss": [], "seconds": 0.0}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def activity_bucket(count: int) -> str:
    for low, high in ACTIVITY_BUCKETS:
        if low <= count <= high:
            return f"{low}+ interactions" if high >= 10**9 else f"{low}-{high} interactions"
    return "no training interactions"


def popularity_buckets(train: pd.DataFrame) -> dict[str, str]:
    counts = train[keys.ITEM_ID].value_counts()
    order = np.arange(len(counts)) / max(len(counts), 1)
    labels = np.where(
        order < 0.2,
        POPULARITY_BUCKETS[0],
        np.where(order < 0.5, POPULARITY_BUCKETS[1], POPULARITY_BUCKETS[2]),
    )
    return dict(zip(counts.index, labels))


def ranks(model, evaluation: pd.DataFrame) -> np.ndarray:
    """Rank of each eval example's item in its user's full ranking (serving_default)."""
    return example_ranks(model, list(evaluation["serialized"]))


# Eval examples per `serving_default` call. The signature holds a few [batch, catalog]
# tensors at once (scores, comparisons, an int64 count): at 40,000 items, 4,096 examples
# took gigabytes; 512 take an eighth of that.
RANK_BATCH = 512


def example_ranks(model, serialized: list[bytes]) -> np.ndarray:
    """The `serving_default` rank of each serialized eval example's item for its user."""
    out = []
    for start in range(0, len(serialized), RANK_BATCH):
        batch = tf.constant(serialized[start : start + RANK_BATCH])
        out.append(model.signatures["serving_default"](examples=batch)["rank"].numpy())
    return np.concatenate(out) if out else np.zeros(0)


def sliced_metrics(
    train: pd.DataFrame, evaluation: pd.DataFrame, item_ranks: np.ndarray, k: int
) -> dict[str, pd.DataFrame]:
    """Recall@K and NDCG@K by user activity bucket and by item popularity bucket."""
    frame = evaluation[["user_id", "item_id"]].copy()
    frame["rank"] = item_ranks
    activity = train[keys.USER_ID].value_counts()
    frame["user activity"] = frame["user_id"].map(lambda u: activity_bucket(activity.get(u, 0)))
    frame["item popularity"] = frame["item_id"].map(popularity_buckets(train)).fillna("unseen")
    result = {}
    for column in ("user activity", "item popularity"):
        rows = []
        order = {label: i for i, label in enumerate(_bucket_order(column))}
        groups = sorted(frame.groupby(column), key=lambda g: order.get(g[0], len(order)))
        for bucket, group in groups:
            m = ranking_metrics.grouped_metrics(group["user_id"], group["rank"], k)
            rows.append(
                {
                    column: bucket,
                    "users": group["user_id"].nunique(),
                    "eval items": len(group),
                    f"recall@{k}": m["recall"],
                    f"ndcg@{k}": m["ndcg"],
                }
            )
        result[column] = pd.DataFrame(rows)
    return result


def _bucket_order(column: str) -> list[str]:
    if column == "item popularity":
        return [*POPULARITY_BUCKETS, "unseen"]
    return [activity_bucket(low) for low, _ in ACTIVITY_BUCKETS]


def sample_users(train: pd.DataFrame, evaluation: pd.DataFrame, count: int = 3) -> list[str]:
    """Eval users spread over activity: the most, median and least active."""
    activity = train[keys.USER_ID].value_counts()
    users = sorted(
        set(evaluation["user_id"]) & set(activity.index), key=lambda u: (-activity[u], u)
    )
    if len(users) <= count:
        return users
    return [users[0], users[len(users) // 2], users[-1]][:count]


def recommendations(model, users: list[str]) -> dict[str, list[tuple[str, float]]]:
    if not users:
        return {}
    out = model.signatures["recommend"](user_id=tf.constant(users))
    ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
    return {
        u: [(i.decode(), float(s)) for i, s in zip(row_ids, row_scores)]
        for u, row_ids, row_scores in zip(users, ids, scores)
    }


def history(train: pd.DataFrame, user: str, count: int = 5) -> list[str]:
    return list(train.loc[train[keys.USER_ID] == user, keys.ITEM_ID].tail(count))


def group_items(frame: pd.DataFrame) -> dict[str, set]:
    """Each user's items in a split."""
    return {u: set(g) for u, g in frame.groupby("user_id")["item_id"]} if len(frame) else {}


def read_checks(blessing_uri: str | None) -> list[dict]:
    if not blessing_uri:
        return []
    path = os.path.join(blessing_uri, "release_report.json")
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def served_data_sentence(candidate: dict, refit: dict) -> str:
    """Which interactions the judged candidate and the served model were trained on."""
    judged = candidate.get("interactions")
    if not refit.get("interactions"):
        if judged is None:
            return "The served model is the judged candidate."
        return f"The served model is the judged candidate, trained on {judged:,} interactions."
    return (
        f"The candidate was judged after training on {judged or 0:,} interactions (the train "
        f"split); the served model was then refit on the whole log, {refit['interactions']:,} "
        f"interactions of {refit.get('users', 0):,} users (train and held-out)."
    )
