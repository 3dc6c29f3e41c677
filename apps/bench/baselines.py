"""Non-learned baselines scored with the project's own ranking metrics, on a given split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsearch import features as keys
from recsearch import ranking_metrics


class InteractionMatrix:
    """Binary user x item matrix of a train split, with index maps."""

    def __init__(self, train: pd.DataFrame):
        self.items = {v: i for i, v in enumerate(sorted(train[keys.ITEM_ID].unique()))}
        self.users = {v: i for i, v in enumerate(sorted(train[keys.USER_ID].unique()))}
        self.matrix = np.zeros((len(self.users), len(self.items)), dtype=np.float32)
        rows = train[keys.USER_ID].map(self.users).to_numpy()
        cols = train[keys.ITEM_ID].map(self.items).to_numpy()
        self.matrix[rows, cols] = 1.0


def evaluate_scores(
    data: InteractionMatrix, held_out: pd.DataFrame, scores_for, k: int = 10
) -> dict[str, float]:
    """Top-K metrics of a scoring function `user index -> scores [items]`, seen items excluded."""
    ranks = []
    for user, group in held_out.groupby(keys.USER_ID):
        if user not in data.users:
            continue
        u = data.users[user]
        relevant = group[keys.ITEM_ID].map(data.items).dropna().astype(int).to_numpy()
        ranks.append(ranking_metrics.ranks_of(scores_for(u), relevant, data.matrix[u] > 0))
    return ranking_metrics.mean_metrics(ranks, k)


def popularity_scores(data: InteractionMatrix):
    counts = data.matrix.sum(axis=0)
    return lambda u: counts


def ease_scores(data: InteractionMatrix, l2: float = 100.0):
    """EASE (Steck 2019): closed-form item-item linear autoencoder, as `user -> scores`."""
    scores = ease_matrix(data, l2)
    return lambda u: scores[u]


def ease_matrix(data: InteractionMatrix, l2: float = 100.0) -> np.ndarray:
    """EASE's scores of every user over every item [U, I], in NumPy."""
    gram = data.matrix.T.astype(np.float64) @ data.matrix
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return data.matrix @ weights
