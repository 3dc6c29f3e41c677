"""`recsearch bench quality`: this project's models against the libraries users would pick instead.

Every model of a protocol sees the same split in the same run. This
project's models are built by `model_factory.build_model`, trained with
`model.fit` and the configured optimizer, and scored through
`query_vectors` / `candidate_vectors`: the code the Trainer runs, fed from
index-encoded frames instead of the Transform output (ids are indexed here
the way Transform's vocabularies index them). Peers (`implicit`, Surprise)
come from `requirements/bench.txt`.

Protocols, all on MovieLens 100K:
  ratings      5-fold CV over all ratings, folds shared by every model; RMSE, MAE.
  stratified   75/25 random split within each user; top-10 over the whole catalog.
  temporal     each user's last 20% by time held out (the pipeline's split).
  sequential   each user's last interaction held out; HR@10, NDCG@10 of that item.
Examples per second count every pass: rows x epochs for models trained by
gradient descent, rows once for closed-form and peer models.
Top-K metrics exclude the user's training items and drop test items never seen
in training; they come from `ranking_metrics`, the Evaluator's definitions.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import psutil

from recsearch import features as keys
from recsearch.apps.bench import baselines
from recsearch.config import Model, Split
from recsearch.data import splits
from recsearch.features import FeatureSpec
from recsearch.modules.training_data import Catalog, seen_pairs

K = 10
SEED = 42
RECENCY_GRID = (0.0, 5.0, 10.0, 20.0, 40.0)
L2_GRID = (100.0, 200.0, 400.0, 800.0)


# Splits.


def read_ratings(data_dir: str) -> pd.DataFrame:
    """u.data as user_id, item_id (strings), rating, timestamp."""
    frame = pd.read_csv(
        os.path.join(data_dir, "u.data"),
        sep="\t",
        names=[keys.USER_ID, keys.ITEM_ID, keys.RATING, keys.TIMESTAMP],
        dtype={keys.USER_ID: str, keys.ITEM_ID: str},
    )
    return frame


def pipeline_split(ratings: pd.DataFrame, method: str, eval_fraction: float, seed: int = SEED):
    """The pipeline's own split (`recsearch.data.splits`): (train, held-out) frames."""
    parts = splits.split_interactions(
        ratings, Split(method=method, eval_fraction=eval_fraction, seed=seed), "retrieval"
    )
    return parts[splits.TRAIN], parts[splits.EVAL]


def temporal_split(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's last 20% of interactions by time are held out."""
    return pipeline_split(ratings, "temporal", 0.2)


def stratified_split(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random 25% of each user's interactions are held out (75/25 stratified by user)."""
    return pipeline_split(ratings, "random", 0.25)


def leave_last_out(ratings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    ordered = ratings.sort_values([keys.USER_ID, keys.TIMESTAMP, keys.ITEM_ID], kind="stable")
    last = ordered.groupby(keys.USER_ID).cumcount(ascending=False) == 0
    return ordered[~last], ordered[last]


def folds(n: int, k: int = 5, seed: int = SEED) -> list[np.ndarray]:
    """k disjoint test-index sets covering range(n)."""
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


# Measuring one model.


class PeakMemory:
    """Peak resident memory above the start, sampled every 10 ms in a thread."""

    def __init__(self):
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def mib(self) -> float:
        return round((self.peak - self.start) / 2**20, 1)


def timed(train: Callable[[], object], examples: int) -> tuple[object, dict]:
    """Runs `train`; returns its result and the seconds, examples/s and peak extra memory."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = train()
        seconds = time.perf_counter() - started
    cost = {
        "train_s": round(seconds, 2),
        "examples_per_s": round(examples / seconds) if seconds > 0 else None,
        "peak_mib": memory.mib,
    }
    return result, cost


# This project's models, through the module code the Trainer runs.


def catalog_of(data: baselines.InteractionMatrix, train: pd.DataFrame) -> Catalog:
    """The Trainer's catalog of an index-encoded training frame (no OOV rows)."""
    users = train[keys.USER_ID].map(data.users).to_numpy(np.int64)
    items = train[keys.ITEM_ID].map(data.items).to_numpy(np.int64)
    times = train[keys.TIMESTAMP].to_numpy(np.int64)
    num_users, num_items = len(data.users), len(data.items)
    ratings = train[keys.RATING].to_numpy(np.float32)
    pairs = seen_pairs(users, items, times, num_items, ratings)
    return Catalog(
        num_users=num_users,
        num_items=num_items,
        user_vocab_size=num_users,
        item_vocab_size=num_items,
        item_ids=np.array(list(data.items), dtype=object),
        item_index=np.arange(num_items),
        item_counts=np.bincount(items, minlength=num_items),
        seen_row_splits=np.searchsorted(pairs.users, np.arange(num_users + 1)).astype(np.int64),
        seen_items=pairs.items,
        user_features={},
        item_features={},
        rating_mean=float(ratings.mean()),
        seen_recency=pairs.recency,
        seen_ratings=pairs.ratings,
    )


def build(name: str, catalog: Catalog, **overrides):
    """A model of this project from the config defaults plus `overrides`."""
    import tensorflow as tf

    from recsearch.modules.model_factory import Parts, build_model, make_optimizer

    hparams = dataclasses.asdict(dataclasses.replace(Model(name=name), **overrides))
    tf.keras.utils.set_random_seed(int(hparams["seed"]))
    sizes = {keys.USER_ID: catalog.num_users, keys.ITEM_ID: catalog.num_items}
    model = build_model(name, hparams, Parts(FeatureSpec(), sizes, 0, catalog))
    model.compile(optimizer=make_optimizer(hparams))
    return model, hparams


def fit(model, hparams: dict, columns: dict[str, np.ndarray]) -> None:
    """Keras fit over in-memory columns: shuffled batches, no per-example Python."""
    import tensorflow as tf

    n = len(next(iter(columns.values())))
    data = (
        tf.data.Dataset.from_tensor_slices(columns)
        .shuffle(n, seed=int(hparams["seed"]), reshuffle_each_iteration=True)
        .batch(int(hparams["batch_size"]))
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(data, epochs=int(hparams["epochs"]), verbose=0)


def score_matrix(model, num_users: int, num_items: int) -> np.ndarray:
    """All users' scores over all items [U, I], as serving computes them (`score_matrix`)."""
    import tensorflow as tf

    users = {keys.USER_ID: tf.range(num_users, dtype=tf.int64)}
    items = {keys.ITEM_ID: tf.range(num_items, dtype=tf.int64)}
    queries = model.query_vectors(users)
    candidates = model.candidate_vectors(items)
    return tf.function(model.score_matrix)(queries, candidates).numpy()


def id_columns(data: baselines.InteractionMatrix, train: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        keys.USER_ID: train[keys.USER_ID].map(data.users).to_numpy(np.int64),
        keys.ITEM_ID: train[keys.ITEM_ID].map(data.items).to_numpy(np.int64),
        keys.RATING: train[keys.RATING].to_numpy(np.float32),
    }


def ours_ease(data, train, l2: float = 100.0, half_life: float = 0.0) -> np.ndarray:
    model, _ = build("ease", catalog_of(data, train), ease_l2=l2, recency_half_life=half_life)
    return score_matrix(model, len(data.users), len(data.items))


def ours_trained(name: str, data, train, **overrides) -> np.ndarray:
    """A gradient-trained model of this project: built, fitted, scored over the catalog."""
    model, hparams = build(name, catalog_of(data, train), **overrides)
    fit(model, hparams, id_columns(data, train))
    return score_matrix(model, len(data.users), len(data.items))


def pick_ease(train: pd.DataFrame, split: Callable) -> tuple[float, float]:
    """EASE's (l2, recency half-life) with the best NDCG@10 on an inner split of `train`."""
    inner_train, inner_held = split(train)
    data = baselines.InteractionMatrix(inner_train)

    def ndcg(setting):
        scores = ours_ease(data, inner_train, *setting)
        return baselines.evaluate_scores(data, inner_held, _rows(scores), K)["ndcg"]

    return max(((l2, h) for l2 in L2_GRID for h in RECENCY_GRID), key=ndcg)


def _rows(scores: np.ndarray):
    return lambda u: scores[u]


# Peers.


def implicit_scores(data: baselines.InteractionMatrix, kind: str) -> np.ndarray:
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    matrix = sp.csr_matrix(data.matrix)
    if kind == "als":
        model = AlternatingLeastSquares(
            factors=64, regularization=0.05, iterations=20, random_state=SEED
        )
    else:
        model = BayesianPersonalizedRanking(factors=64, iterations=100, random_state=SEED)
    with threadpool_limits(1, "blas"):  # implicit's own threads; BLAS threads slow it down
        model.fit(matrix, show_progress=False)
    return np.asarray(model.user_factors) @ np.asarray(model.item_factors).T


def cooccurrence_scores(train: pd.DataFrame, data: baselines.InteractionMatrix) -> np.ndarray:
    """Item-to-item: items that most often follow-or-share users with each user's last item."""
    gram = data.matrix.T @ data.matrix
    np.fill_diagonal(gram, 0.0)
    last = train.sort_values(keys.TIMESTAMP, kind="stable").groupby(keys.USER_ID).tail(1)
    scores = np.zeros_like(data.matrix)
    rows = last[keys.USER_ID].map(data.users).to_numpy()
    scores[rows] = gram[last[keys.ITEM_ID].map(data.items).to_numpy()]
    return scores


# Protocols.


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
    return {**baselines.evaluate_scores(data, held, _rows(scores), K), **cost}


def popularity_matrix(data: baselines.InteractionMatrix) -> np.ndarray:
    """Every user's scores are the item counts (a read-only broadcast, no copy)."""
    counts = data.matrix.sum(axis=0)
    return np.broadcast_to(counts, (len(data.users), len(counts)))


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


def ours_rating(name: str, train: pd.DataFrame, test: pd.DataFrame, overrides: dict) -> np.ndarray:
    """Predicted ratings of a test frame; pairs outside training get the training mean."""
    data = baselines.InteractionMatrix(train)
    catalog = catalog_of(data, train)
    model, hparams = build(name, catalog, **overrides)
    fit(model, hparams, id_columns(data, train))
    scores = score_matrix(model, len(data.users), len(data.items))
    users = test[keys.USER_ID].map(data.users)
    items = test[keys.ITEM_ID].map(data.items)
    known = users.notna().to_numpy() & items.notna().to_numpy()
    predicted = np.full(len(test), catalog.rating_mean)
    predicted[known] = scores[users[known].astype(int), items[known].astype(int)]
    return np.clip(predicted, 1.0, 5.0)


def _errors(predicted: np.ndarray, test: pd.DataFrame) -> dict[str, float]:
    error = predicted - test[keys.RATING].to_numpy(np.float64)
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


def _mean_over_folds(runs: list) -> dict:
    out = {m: float(np.mean([e[m] for e, _ in runs])) for m in ("rmse", "mae")}
    out["rmse_std"] = float(np.std([e["rmse"] for e, _ in runs]))
    for field in ("train_s", "examples_per_s", "peak_mib"):
        out[field] = round(float(np.mean([c[field] for _, c in runs])), 1)
    return out


# Entry point.

TRAINED_TOPK = {
    "two_tower": {"epochs": 20, "batch_size": 1024, "learning_rate": 0.005},
    "mult_vae": {"epochs": 5, "embedding_dim": 200, "batch_size": 512, "learning_rate": 0.001},
    "item2vec": {"epochs": 10, "embedding_dim": 64, "batch_size": 1024, "learning_rate": 0.005},
    "wmf": {"epochs": 20, "embedding_dim": 64, "batch_size": 1024, "learning_rate": 0.005},
    "neumf": {"epochs": 5, "embedding_dim": 32, "batch_size": 1024, "learning_rate": 0.002},
    "wide_deep": {"epochs": 10, "embedding_dim": 32, "batch_size": 1024, "learning_rate": 0.002},
    "deepfm": {"epochs": 10, "embedding_dim": 32, "batch_size": 1024, "learning_rate": 0.002},
    "dcn": {"epochs": 10, "embedding_dim": 32, "batch_size": 1024, "learning_rate": 0.002},
}
TRAINED_SEQUENTIAL = {
    "gru4rec": {"epochs": 10, "embedding_dim": 64, "batch_size": 512, "learning_rate": 0.002},
    "sasrec": {"epochs": 10, "embedding_dim": 64, "batch_size": 512, "learning_rate": 0.002},
}
TRAINED_RATINGS = {
    "mf": {"epochs": 20, "embedding_dim": 64, "l2": 0.0001, "learning_rate": 0.002},
    "autorec": {"epochs": 6, "embedding_dim": 500, "l2": 0.001, "learning_rate": 0.001},
    "mf_autorec": {
        "epochs": 14,
        "embedding_dim": 64,
        "l2": 0.0001,
        "autorec_hidden_dim": 500,
        "autorec_l2": 0.001,
        "learning_rate": 0.0015,
    },
}


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


PROTOCOL_TITLES = {
    "ratings": "Ratings: 5-fold CV, folds shared by all models",
    "stratified": "Top-10: 75/25 random split within each user",
    "temporal": "Top-10: each user's last 20% by time held out",
    "sequential": "Next item: each user's last interaction held out",
}


def table_text(name: str, protocol: dict) -> str:
    models = protocol["models"]
    title = f"**{PROTOCOL_TITLES[name]}** ({protocol['seconds']} s for the whole protocol)"
    cost = ("train_s", "examples_per_s", "peak_mib")
    cost_head = "train s | examples/s | peak extra MiB"
    if name == "ratings":
        head, fields = "RMSE | RMSE std | MAE", ("rmse", "rmse_std", "mae")
    elif name == "sequential":
        head, fields = "HR@10 | NDCG@10", ("hit_rate", "ndcg")
    else:
        head = "Recall@10 | NDCG@10 | MRR@10 | hit rate"
        fields = ("recall", "ndcg", "mrr", "hit_rate")
    lines = [title, "", f"| model | {head} | {cost_head} |", "|---" * (len(fields) + 4) + "|"]
    for model, row in models.items():
        values = [f"{row[f]:.4f}" for f in fields] + [str(row[c]) for c in cost]
        lines.append(f"| {model} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def header(result: dict) -> str:
    return f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}`."


def text(result: dict) -> str:
    parts = [header(result)] + [table_text(n, p) for n, p in result["protocols"].items()]
    return "\n\n".join(parts)


def protocol_blocks(result: dict) -> dict[str, str]:
    """Docs block name -> text, one per protocol run, so a partial run keeps the others."""
    return {
        f"quality-{name}": f"{header(result)}\n\n{table_text(name, protocol)}"
        for name, protocol in result["protocols"].items()
    }
