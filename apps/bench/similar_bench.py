"""`recsearch bench similar`: which model should answer `similar_items` on MovieLens 100K.

One `model: auto` training by the Trainer's own `run_fn` (EASE wins `recommend`,
the two-tower content model answers search) on examples made by the pipeline's
code. Then, for the same 300 seeded warm movies, each way of answering
`similar_items` is scored side by side:
  - co-occurrence recall@10 on the inner split, as `auto` measured it
    (modules/item_similarity.py): the same users' other next movies;
  - genre overlap: the share of the 10 neighbours that share a genre with the movie;
  - hubs: in how many of the 300 lists the most frequent neighbour appears.
"content" is the cosine of the content model's item vectors (what answered
before); "bundle" is what the pushed bundle's `similar_items` answers now.
"""

from __future__ import annotations

import collections
import json
import os
import tempfile
import time

import numpy as np
import pandas as pd
import tensorflow as tf

from recsearch.config import load_config
from recsearch.data import movielens
from recsearch.modules import selection

K = 10
ANCHORS = 300


def run(data_dir: str, output: str) -> dict:
    from recsearch.apps.bench.content_bench import movielens_items, train_bundle
    from recsearch.apps.bench.pipeline_bench import header

    data_dir = os.path.abspath(data_dir)
    work = tempfile.mkdtemp(prefix="recsearch-similar-")
    started = time.time()
    base = movielens.config_dict(data_dir)
    base["model"] = {**base["model"], "name": "auto"}
    base["serving"] = {"top_k": K, "index": "brute_force"}
    path = os.path.join(work, "movielens.yaml")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(base, f)
    model = train_bundle(load_config(path), os.path.join(work, "run"))
    chosen = selection.read(os.path.join(work, "run", "run"))
    items, genres = movielens_items(data_dir)
    ids = items["item_id"].tolist()
    counts = (
        pd.read_csv(os.path.join(data_dir, "u.data"), sep="\t", header=None, usecols=[1])[1]
        .astype(str)
        .value_counts()
    )
    warm = [i for i in ids if counts.get(i, 0) >= 5]
    anchors = sorted(np.random.default_rng(0).choice(warm, ANCHORS, replace=False).tolist())
    position = {item: i for i, item in enumerate(ids)}

    bundle = model.signatures["similar_items"](item_id=tf.constant(anchors))
    by_bundle = [[v.decode() for v in row] for row in bundle["item_ids"].numpy()]
    vectors = model.signatures["embed_items"](item_id=tf.constant(ids))["embeddings"].numpy()
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    by_content = []
    for anchor in anchors:
        row = unit @ unit[position[anchor]]
        row[position[anchor]] = -np.inf
        by_content.append([ids[j] for j in np.argsort(-row)[:K]])

    def genre_overlap(lists):
        shares = [
            np.mean([(genres[position[a]] & genres[position[n]]).any() for n in found])
            for a, found in zip(anchors, lists)
        ]
        return float(np.mean(shares))

    def hubs(lists):
        top, times = collections.Counter(n for found in lists for n in found).most_common(1)[0]
        return {"item": items.loc[position[top], "title"], "lists": times}

    scores = chosen.get("similar_scores", {}) if chosen else {}
    content_label = chosen.get("content_model") if chosen else None
    winner = chosen.get("winner_label") if chosen else None
    result = {
        **header(f"recsearch bench similar --data-dir {data_dir}"),
        "winner": winner,
        "similar_from_model": bool(chosen and chosen.get("similar_from_model")),
        "anchors": ANCHORS,
        "rows": {
            "content (two_tower cosine)": {
                "cooccurrence_recall": scores.get(content_label),
                "genre_overlap": genre_overlap(by_content),
                "hub": hubs(by_content),
            },
            "bundle (what similar_items answers)": {
                "cooccurrence_recall": scores.get(winner)
                if chosen and chosen.get("similar_from_model")
                else scores.get(content_label),
                "genre_overlap": genre_overlap(by_bundle),
                "hub": hubs(by_bundle),
            },
        },
        "seconds": round(time.time() - started, 1),
    }
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "bench-similar.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return result


def table(result: dict) -> str:
    lines = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}` "
        f"({result['seconds']:.0f} s). `model: auto` chose {result['winner']} for `recommend`; "
        f"`similar_items` of warm items comes from "
        f"{'it' if result['similar_from_model'] else 'the content model'}.",
        "",
        f"| similar_items by | co-occurrence recall@10 (inner split) | genre overlap@10 "
        f"({result['anchors']} warm movies) | most frequent neighbour |",
        "|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        recall = row["cooccurrence_recall"]
        shown = "-" if recall is None else f"{recall:.4f}"
        hub = row["hub"]
        lines.append(
            f"| {name} | {shown} | {row['genre_overlap']:.3f} | "
            f"{hub['item']} ({hub['lists']} of {result['anchors']} lists) |"
        )
    return "\n".join(lines)
