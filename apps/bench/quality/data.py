"""MovieLens 100K's ratings and the splits the protocols hold out."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from recsearch import features as keys
from recsearch.config import Split
from recsearch.data import splits

K = 10


SEED = 42


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
