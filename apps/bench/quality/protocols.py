"""The protocols: every model of a protocol on the same split, in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from recsearch import features as keys
from recsearch.apps.bench import baselines
from recsearch.apps.bench.quality.data import (
    SEED,
    K,
    folds,
    leave_last_out,
    read_ratings,
    stratified_split,
    temporal_split,
)
from recsearch.apps.bench.quality.measure import timed
from recsearch.apps.bench.quality.ours import (
    TRAINED_RATINGS,
    TRAINED_SEQUENTIAL,
    TRAINED_TOPK,
    ours_ease,
    ours_rating,
    ours_trained,
    pick_ease,
)
from recsearch.apps.bench.quality.peers import (
    cooccurrence_scores,
    implicit_scores,
    popularity_matrix,
    rows_of,
)
from recsearch.apps.bench.quality.render import table_text
from recsearch.config import Model


def topk_protocol(
    train: pd.DataFrame, held: pd.DataFrame, inner_split: Callable, trained: dict[str, dict]
) -> dict[str, dict]:
    """Every top-K model on one split: metrics and training cost."""
    data = baselines.InteractionMatrix(train)
    n = len(train)
    rows: dict[str, dict] = {}

    def add(name: str, scores_fn: Callable[[], np.ndarray], passes: int = 1):
        rows[name] = scored(scores_fn, data, held, n * passes)

    add("popularity (peer)", lambda: popularity_matrix(data))
    add("implicit ALS, 64 f (peer)", lambda: implicit_scores(data, "als"))
    add("implicit BPR, 64 f (peer)", lambda: implicit_scores(data, "bpr"))
    add("EASE l2=100, NumPy (peer)", lambda: baselines.ease_matrix(data))
    for name, overrides in trained.items():
        add(
            f"recsearch {name}",
            lambda name=name, overrides=overrides: ours_trained(name, data, train, **overrides),
            passes=int(overrides.get("epochs", Model().epochs)),
        )
    add("recsearch ease, defaults (l2=100, no recency)", lambda: ours_ease(data, train))
    l2, half_life = pick_ease(train, inner_split)
    add(
        f"recsearch ease, l2={l2:g}, recency half-life {half_life:g} (inner-validated)",
        lambda: ours_ease(data, train, l2, half_life),
    )
    return rows


def scored(scores_fn: Callable[[], np.ndarray], data, held: pd.DataFrame, examples: int) -> dict:
    """Top-K metrics of the score matrix `scores_fn` trains and returns, with its cost."""
    scores, cost = timed(scores_fn, examples)
    return {**baselines.evaluate_scores(data, held, rows_of(scores), K), **cost}


def sequential_protocol(ratings: pd.DataFrame) -> dict[str, dict]:
    train, held = leave_last_out(ratings)
    data = baselines.InteractionMatrix(train)
    n = len(train)
    rows = {}

    def add(name: str, scores_fn: Callable[[], np.ndarray]):
        rows[name] = scored(scores_fn, data, held, n)

    add("popularity (peer)", lambda: popularity_matrix(data))
    add("item-to-item co-occurrence (peer)", lambda: cooccurrence_scores(train, data))
    l2, half_life = pick_ease(train, leave_last_out)
    add(
        f"recsearch ease, l2={l2:g}, recency half-life {half_life:g} (inner-validated)",
        lambda: ours_ease(data, train, l2, half_life),
    )
    for name, overrides in TRAINED_SEQUENTIAL.items():
        epochs = int(overrides.get("epochs", Model().epochs))
        rows[f"recsearch {name}"] = scored(
            lambda name=name, overrides=overrides: ours_trained(name, data, train, **overrides),
            data,
            held,
            n * epochs,
        )
    return rows


def ratings_protocol(
    ratings: pd.DataFrame, num_folds: int = 5, ours: dict[str, dict] | None = None
) -> dict:
    """5-fold CV: Surprise's SVD, SVD++, BaselineOnly and this project's models, same folds."""
    per_fold: dict[str, list] = {}
    for test_index in folds(len(ratings), num_folds):
        mask = np.zeros(len(ratings), dtype=bool)
        mask[test_index] = True
        for name, outcome in ratings_fold(ratings, mask, ours or TRAINED_RATINGS).items():
            per_fold.setdefault(name, []).append(outcome)
    return {name: _mean_over_folds(runs) for name, runs in per_fold.items()}


def ratings_fold(
    ratings: pd.DataFrame, is_test: np.ndarray, ours: dict[str, dict]
) -> dict[str, tuple]:
    """(errors, cost) of every rating model on one fold."""
    import surprise

    train, test = ratings[~is_test], ratings[is_test]
    columns = [keys.USER_ID, keys.ITEM_ID, keys.RATING]
    dataset = surprise.Dataset.load_from_df(ratings[columns], surprise.Reader(rating_scale=(1, 5)))
    trainset = dataset.construct_trainset(
        [(u, i, float(r), None) for u, i, r in train[columns].to_numpy()]
    )
    testset = [(u, i, float(r)) for u, i, r in test[columns].to_numpy()]
    peers = {
        "Surprise SVD (peer)": lambda: surprise.SVD(random_state=SEED),
        "Surprise SVD++ (peer)": lambda: surprise.SVDpp(random_state=SEED),
        "Surprise BaselineOnly (peer)": lambda: surprise.BaselineOnly(verbose=False),
    }
    out = {}
    for name, make in peers.items():
        algo = make()
        _, cost = timed(lambda algo=algo: algo.fit(trainset), len(train))
        predicted = np.array([p.est for p in algo.test(testset)])
        out[name] = (_errors(predicted, test), cost)
    for name, overrides in ours.items():
        epochs = int(overrides.get("epochs", Model().epochs))
        predicted, cost = timed(
            lambda name=name, overrides=overrides: ours_rating(name, train, test, overrides),
            len(train) * epochs,
        )
        out[f"recsearch {name}"] = (_errors(predicted, test), cost)
    return out


def _errors(predicted: np.ndarray, test: pd.DataFrame) -> dict[str, float]:
    error = predicted - test[keys.RATING].to_numpy(np.float64)
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


def _mean_over_folds(runs: list) -> dict:
    out = {m: float(np.mean([e[m] for e, _ in runs])) for m in ("rmse", "mae")}
    out["rmse_std"] = float(np.std([e["rmse"] for e, _ in runs]))
    for field in ("train_s", "examples_per_s", "peak_mib"):
        out[field] = round(float(np.mean([c[field] for _, c in runs])), 1)
    return out


def run(data_dir: str, protocols: tuple[str, ...] = ("ratings", "stratified", "temporal")) -> dict:
    """Runs the chosen protocols on MovieLens 100K; returns their tables as a dict."""
    from recsearch.apps.bench.pipeline_bench import header

    ratings = read_ratings(data_dir)
    result = {
        **header(
            "recsearch bench quality --data-dir <movielens-100k> --protocols " + ",".join(protocols)
        ),
        "protocols": {},
    }
    for name in protocols:
        started = time.time()
        if name == "ratings":
            table = ratings_protocol(ratings)
        elif name == "stratified":
            table = topk_protocol(*stratified_split(ratings), stratified_split, TRAINED_TOPK)
        elif name == "temporal":
            table = topk_protocol(*temporal_split(ratings), temporal_split, TRAINED_TOPK)
        elif name == "sequential":
            table = sequential_protocol(ratings)
        else:
            raise ValueError(f"unknown protocol {name!r}")
        result["protocols"][name] = {"models": table, "seconds": round(time.time() - started)}
        print(table_text(name, result["protocols"][name]), flush=True)
    return result
