"""`recsearch bench content`: search by text and image, and cold-start recommendation.

Every model here is trained by the Trainer's own `run_fn` on examples made
by the ExampleGen executor's code and the real `preprocessing_fn` under
tf.Transform, then queried through the exported bundle's signatures:
  - shop: the embedded sample shop with 10% of the items held out of every
    interaction (they exist only in the catalog): cold-start Recall@10
    against popularity and random; text search (an item's title as the
    query) and image search (its picture) scored by precision@10 of the
    category, the item itself excluded.
  - digits: scikit-learn's 1,797 labelled 8x8 digit images as a catalog of
    pictures, with users whose tastes run over the ten digits; image search
    precision@10 of the same digit, against raw-pixel cosine and random.
  - MovieLens 100K: titles as text; text search precision@10 of sharing at
    least one genre with the query movie, against random.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time

import numpy as np
import pandas as pd
import tensorflow as tf

from recsearch import config as config_lib
from recsearch.config import load_config
from recsearch.data import movielens, sample
from recsearch.modules import trainer
from recsearch.testing import staging

K = 10
CONTENT_MODEL = {"id_dropout": 0.2, "content_weight": 0.5, "epochs": 10}


def train_bundle(config, work: str):
    """Transform and train with the pipeline's code; returns the loaded bundle."""
    _, graph, transformed = staging.transform_sample(config, os.path.join(work, "data"))
    serving_dir = os.path.join(work, "bundle")
    trainer.run_fn(
        staging.fn_args(config, transformed, graph, serving_dir, os.path.join(work, "run"))
    )
    return tf.saved_model.load(serving_dir)


def _top(signature, name: str, values: list, exclude: list[str] | None = None, k: int = K):
    out = []
    for start in range(0, len(values), 256):
        batch = values[start : start + 256]
        ids = signature(**{name: tf.constant(batch)})["item_ids"].numpy()
        out.extend([[v.decode() for v in row] for row in ids])
    if exclude is not None:
        out = [[v for v in row if v != item][:k] for row, item in zip(out, exclude)]
    return out


def precision(results: list[list[str]], relevant) -> float:
    """Mean share of results `relevant(query index, item)` deems right."""
    return float(np.mean([np.mean([relevant(i, v) for v in row]) for i, row in enumerate(results)]))


def shop(work: str) -> dict:
    directory = os.path.join(work, "shop")
    config_path = sample.write(directory)
    events = pd.read_csv(os.path.join(directory, "interactions.csv"))
    items = pd.read_csv(os.path.join(directory, "items.csv"))
    rng = np.random.default_rng(3)
    cold = set(rng.choice(items["item_id"], size=len(items) // 10, replace=False))
    held = events[events["item_id"].isin(cold)]
    events[~events["item_id"].isin(cold)].to_csv(
        os.path.join(directory, "interactions.csv"), index=False
    )
    config_lib.update_config_file(directory, {"model": CONTENT_MODEL, "serving": {"top_k": 20}})
    model = train_bundle(load_config(config_path), os.path.join(work, "shop-run"))
    signatures = model.signatures
    category = dict(zip(items["item_id"], items["category"]))
    ids = list(items["item_id"])

    # Cold start: users who later interact with cold items.
    warm_users = set(events.loc[~events["item_id"].isin(cold), "user_id"])
    wanted = held[held["user_id"].isin(warm_users)].groupby("user_id")["item_id"].apply(set)
    users = list(wanted.index)
    top = _top(signatures["recommend"], "user_id", users)
    recall = np.mean(
        [len(set(t[:K]) & wanted[u]) / min(len(wanted[u]), K) for u, t in zip(users, top)]
    )
    seen = events[~events["item_id"].isin(cold)].groupby("user_id")["item_id"].nunique()
    random_recall = np.mean(
        [
            min(K, len(items) - seen[u])
            / (len(items) - seen[u])
            * len(wanted[u])
            / min(len(wanted[u]), K)
            for u in users
        ]
    )
    with_cold = np.mean([bool(set(t[:K]) & cold) for t in top])

    titles = list(items["title"])
    by_text = _top(signatures["search_text"], "query", titles, exclude=ids)
    pictures = []
    for path in items["image"]:
        with open(os.path.join(directory, path), "rb") as f:
            pictures.append(f.read())
    by_image = _top(signatures["search_image"], "image", pictures, exclude=ids)

    def same(i, item):
        return category[item] == category[ids[i]]

    base = items["category"].value_counts(normalize=True)
    chance = float(sum(p * (p * len(items) - 1) / (len(items) - 1) for p in base))
    return {
        "items": len(items),
        "cold_items": len(cold),
        "cold_users": len(users),
        "cold_recall_at_10": {
            "two-tower (content, id dropout)": float(recall),
            "popularity": 0.0,
            "random": float(random_recall),
        },
        "share_of_top10_lists_with_a_cold_item": float(with_cold),
        "text_search_precision_at_10": {"title query": precision(by_text, same), "random": chance},
        "image_search_precision_at_10": {
            "item picture": precision(by_image, same),
            "random": chance,
        },
    }


def digits_shop(directory: str, users: int = 600, seed: int = 5) -> str:
    """scikit-learn's digits as a picture catalog with taste-driven interactions."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(directory, "images"), exist_ok=True)
    names = [f"d{j:04d}" for j in range(len(digits.target))]
    for name, pixels in zip(names, digits.images):
        grey = (pixels / 16.0 * 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB").save(buffer, format="PNG")
        with open(os.path.join(directory, "images", f"{name}.png"), "wb") as f:
            f.write(buffer.getvalue())
    pd.DataFrame({"item_id": names, "image": [f"images/{n}.png" for n in names]}).to_csv(
        os.path.join(directory, "items.csv"), index=False
    )
    taste = rng.dirichlet(np.full(10, 0.2), users)
    rows = []
    for u in range(users):
        for t in range(int(rng.integers(10, 40))):
            label = rng.choice(10, p=taste[u])
            item = rng.choice(np.flatnonzero(digits.target == label))
            rows.append((f"u{u:04d}", names[item], 1_700_000_000 + 60 * (u * 100 + t)))
    pd.DataFrame(rows, columns=["user_id", "item_id", "ts"]).to_csv(
        os.path.join(directory, "interactions.csv"), index=False
    )
    path = os.path.join(directory, "config.yaml")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "name": "digits",
                "interactions": {"path": "interactions.csv", "timestamp": "ts"},
                "items": {"path": "items.csv", "id": "item_id", "image": "image"},
                "model": {**CONTENT_MODEL, "embedding_dim": 32, "batch_size": 256},
                "serving": {"top_k": 20},
            },
            f,
        )
    return path


def digits(work: str) -> dict:
    from sklearn.datasets import load_digits

    directory = os.path.join(work, "digits")
    model = train_bundle(load_config(digits_shop(directory)), os.path.join(work, "digits-run"))
    data = load_digits()
    names = [f"d{j:04d}" for j in range(len(data.target))]
    label = dict(zip(names, data.target))
    pictures = []
    for name in names:
        with open(os.path.join(directory, "images", f"{name}.png"), "rb") as f:
            pictures.append(f.read())
    found = _top(model.signatures["search_image"], "image", pictures, exclude=names)
    pixels = data.data / np.linalg.norm(data.data, axis=1, keepdims=True)
    similarity = pixels @ pixels.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, :K]

    def same(i, item):
        return label[item] == data.target[i]

    return {
        "images": len(names),
        "image_search_precision_at_10": {
            "two-tower image tower": precision(found, same),
            "raw-pixel cosine": float(np.mean(data.target[nearest] == data.target[:, None])),
            "random": 0.1,
        },
    }


def movielens_items(data_dir: str) -> tuple[pd.DataFrame, np.ndarray]:
    """MovieLens 100K's u.item (ids as text) and its genre flags [items, genres] as bools."""
    items = pd.read_csv(
        os.path.join(data_dir, "u.item"),
        sep="|",
        header=None,
        encoding="latin-1",
        names=movielens.config_dict(data_dir)["items"]["columns"],
    )
    items["item_id"] = items["item_id"].astype(str)
    return items, items[list(movielens.GENRES)].to_numpy().astype(bool)


def movielens_titles(work: str, data_dir: str) -> dict:
    data_dir = os.path.abspath(data_dir)
    base = movielens.config_dict(data_dir)
    base["model"] = {**base["model"], **CONTENT_MODEL, "epochs": 20}
    base["serving"] = {"top_k": 20}
    path = os.path.join(work, "movielens.yaml")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(base, f)
    model = train_bundle(load_config(path), os.path.join(work, "movielens-run"))
    items, genres = movielens_items(data_dir)
    ids = list(items["item_id"])
    position = {v: i for i, v in enumerate(ids)}
    found = _top(model.signatures["search_text"], "query", list(items["title"]), exclude=ids)

    def shares_genre(i, item):
        return bool((genres[i] & genres[position[item]]).any())

    overlap = (genres.astype(int) @ genres.T.astype(int)) > 0
    np.fill_diagonal(overlap, False)
    return {
        "movies": len(ids),
        "text_search_precision_at_10": {
            "title query": precision(found, shares_genre),
            "random": float(overlap.sum() / (len(ids) * (len(ids) - 1))),
        },
    }


def run(data_dir: str | None, output: str) -> dict:
    from recsearch.apps.bench.pipeline_bench import header

    work = tempfile.mkdtemp(prefix="recsearch-content-")
    started = time.time()
    os.makedirs(output, exist_ok=True)
    result = {
        **header("recsearch bench content"),
    }
    parts = [("shop", lambda: shop(work)), ("digits", lambda: digits(work))]
    if data_dir and os.path.isfile(os.path.join(data_dir, "u.item")):
        parts.append(("movielens", lambda: movielens_titles(work, data_dir)))
    for name, part in parts:
        result[name] = part()
        # Each part is saved as it finishes, so a later failure loses nothing.
        with open(os.path.join(output, "bench-content.json"), "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
        print(f"content bench: {name} done", flush=True)
    result["seconds"] = round(time.time() - started, 1)
    return result
