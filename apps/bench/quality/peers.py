"""The peers' scores: implicit's ALS and BPR, item co-occurrence, popularity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsearch import features as keys
from recsearch.apps.bench import baselines
from recsearch.apps.bench.quality.data import SEED


def rows_of(scores: np.ndarray):
    return lambda u: scores[u]


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


def popularity_matrix(data: baselines.InteractionMatrix) -> np.ndarray:
    """Every user's scores are the item counts (a read-only broadcast, no copy)."""
    counts = data.matrix.sum(axis=0)
    return np.broadcast_to(counts, (len(data.users), len(counts)))
