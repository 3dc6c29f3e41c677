"""EASE: a closed-form linear item-item autoencoder for implicit top-K (Steck, 2019).

B = argmin ||X - X B||^2 + lambda ||B||^2 subject to diag(B) = 0 has the
solution P = (X^T X + lambda I)^-1, B_ij = -P_ij / P_jj. A user's scores are
x_u B, where x_u is the user's history.

Recency: with `recency_half_life` h > 0 the history an answer is built from
weighs each seen item by 1 + 2 * 2^(-r/h), where r counts the user's items
seen more recently. B itself is unchanged. On a temporal split, what a user
does next follows what they did last (figures in docs/benchmarks.md).

In the project's "query vectors times candidate vectors" contract the query
of user u is the weighted history row [V] and the candidate vector of item i
is column i of B [V]; items outside the vocabulary (cold items) get zeros.
There is nothing to fit by gradient descent: `closed_form` tells the Trainer
to skip `fit`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from scipy import sparse

from recsearch import features as keys
from recsearch.model_registry import EASE_MAX_ITEMS
from recsearch.modules.models import arguments
from recsearch.modules.models.base import RecommenderModel, rows_in_vocabulary
from recsearch.modules.models.history import user_history
from recsearch.modules.training_data import Catalog

# B is a dense V x V matrix: past this many items use the two-tower model.
MAX_ITEMS = EASE_MAX_ITEMS


def solve(gram: np.ndarray, l2: float) -> np.ndarray:
    """EASE's item-item weights B from the Gram matrix X^T X."""
    regularized = gram.astype(np.float64)
    regularized[np.diag_indices_from(regularized)] += l2
    inverse = np.linalg.inv(regularized)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


class EASE(RecommenderModel):
    """Item-item linear autoencoder solved in closed form from the training catalog."""

    closed_form = True

    def __init__(self, catalog: Catalog, l2: float = 100.0, recency_half_life: float = 0.0):
        """Solves the model.

        Args:
          catalog: The training catalog: each user's distinct items and their recency.
          l2: The ridge penalty lambda; must be positive.
          recency_half_life: Half-life, in interactions, of the recency boost
            (0: every seen item weighs the same).

        Raises:
          ValueError: On a non-positive l2, a negative half-life, or a
            vocabulary above MAX_ITEMS.
        """
        super().__init__()
        if l2 <= 0:
            raise ValueError(f"EASE needs a positive l2 (lambda), got {l2}")
        arguments.non_negative(recency_half_life=recency_half_life)
        vocab = catalog.item_vocab_size
        if vocab > MAX_ITEMS:
            raise ValueError(
                f"EASE holds a dense {vocab} x {vocab} item matrix; above {MAX_ITEMS} items "
                "use model.name: two_tower"
            )
        self.l2 = float(l2)
        self.recency_half_life = float(recency_half_life)
        # X is sparse (users x items): only the V x V Gram matrix is dense.
        history = sparse.csr_matrix(
            (
                np.ones(len(catalog.seen_items), np.float64),
                catalog.seen_items,
                catalog.seen_row_splits,
            ),
            shape=(catalog.num_users, vocab),
        )
        gram = (history.T @ history).toarray()
        weights = solve(gram, self.l2)
        self.item_weights = tf.Variable(weights.T, trainable=False, name="item_weights")
        self.user_history = user_history(catalog, self.recency_half_life)
        self.num_vocab_items = vocab

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Each user's weighted history [B, V]; users outside the catalog get zeros."""
        return self.user_history.dense(features[keys.USER_ID])

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Column i of B for each item i [B, V]; zeros for items outside the vocabulary."""
        return rows_in_vocabulary(self.item_weights, features[keys.ITEM_ID], self.num_vocab_items)

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """Squared reconstruction error of the observed (user, item) cells."""
        return tf.reduce_mean(tf.square(1.0 - self(features)))
