"""This project's models, through the module code the Trainer runs, on index-encoded frames."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from recsearch import features as keys
from recsearch.apps.bench import baselines
from recsearch.apps.bench.quality.data import K
from recsearch.apps.bench.quality.peers import rows_of
from recsearch.config import Model
from recsearch.config.trainer_settings import with_values
from recsearch.features import FeatureSpec
from recsearch.modules.training_data import Catalog, seen_pairs

RECENCY_GRID = (0.0, 5.0, 10.0, 20.0, 40.0)


L2_GRID = (100.0, 200.0, 400.0, 800.0)


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

    settings = with_values(Model(name=name), overrides)
    tf.keras.utils.set_random_seed(settings.seed)
    sizes = {keys.USER_ID: catalog.num_users, keys.ITEM_ID: catalog.num_items}
    model = build_model(name, settings, Parts(FeatureSpec(), sizes, 0, catalog))
    model.compile(optimizer=make_optimizer(settings))
    return model, settings


def fit(model, settings: Model, columns: dict[str, np.ndarray]) -> None:
    """Keras fit over in-memory columns: shuffled batches, no per-example Python."""
    import tensorflow as tf

    n = len(next(iter(columns.values())))
    data = (
        tf.data.Dataset.from_tensor_slices(columns)
        .shuffle(n, seed=settings.seed, reshuffle_each_iteration=True)
        .batch(settings.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(data, epochs=settings.epochs, verbose=0)


def score_matrix(model, num_users: int, num_items: int) -> np.ndarray:
    """All users' scores over all items [U, I], as serving computes them (`score_matrix`)."""
    import tensorflow as tf

    users = {keys.USER_ID: tf.range(num_users, dtype=tf.int64)}
    if getattr(model, "scores_from_history", False):  # EASE: rows over the vocabulary
        return model.vocabulary_scores(users[keys.USER_ID]).numpy()[:, :num_items]
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
    model, settings = build(name, catalog_of(data, train), **overrides)
    fit(model, settings, id_columns(data, train))
    return score_matrix(model, len(data.users), len(data.items))


def pick_ease(train: pd.DataFrame, split: Callable) -> tuple[float, float]:
    """EASE's (l2, recency half-life) with the best NDCG@10 on an inner split of `train`."""
    inner_train, inner_held = split(train)
    data = baselines.InteractionMatrix(inner_train)

    def ndcg(setting):
        scores = ours_ease(data, inner_train, *setting)
        return baselines.evaluate_scores(data, inner_held, rows_of(scores), K)["ndcg"]

    return max(((l2, h) for l2 in L2_GRID for h in RECENCY_GRID), key=ndcg)


def ours_rating(name: str, train: pd.DataFrame, test: pd.DataFrame, overrides: dict) -> np.ndarray:
    """Predicted ratings of a test frame; pairs outside training get the training mean."""
    data = baselines.InteractionMatrix(train)
    catalog = catalog_of(data, train)
    model, settings = build(name, catalog, **overrides)
    fit(model, settings, id_columns(data, train))
    scores = score_matrix(model, len(data.users), len(data.items))
    users = test[keys.USER_ID].map(data.users)
    items = test[keys.ITEM_ID].map(data.items)
    known = users.notna().to_numpy() & items.notna().to_numpy()
    predicted = np.full(len(test), catalog.rating_mean)
    predicted[known] = scores[users[known].astype(int), items[known].astype(int)]
    return np.clip(predicted, 1.0, 5.0)


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
