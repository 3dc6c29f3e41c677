"""EASE: a closed-form linear item-item autoencoder for implicit top-K (Steck, 2019).

B = argmin ||X - X B||^2 + lambda ||B||^2 subject to diag(B) = 0 has the
solution P = (X^T X + lambda I)^-1, B_ij = -P_ij / P_jj. A user's scores are
x_u B, where x_u is the user's history.

Solving (`solve`): in float32, through a Cholesky factor, never an explicit
LU inverse. With fewer users than items it goes through the users' side
(Woodbury: P = (I - X^T (X X^T + lambda I)^-1 X) / lambda), a U x U factor
instead of a V x V one: a 9.7k-item catalog with 600 users is a 600 x 600
Cholesky and one V x U x V product.

Storing (`prune`): B keeps its strongest weights per item (by magnitude), as
sparse rows: row j holds what having item j adds to the other items. By
default as many as fit 100 MB (`AUTO_WEIGHTS`): a catalog up to 3.5k items
stays whole, a 10k one keeps 1,250 per item. When half of each row or more is
kept, B is stored as a dense float32 matrix instead (no larger, and a matrix
product scores faster than gathered rows). Dense, a 9.7k-item B was 376 MB,
and serving stored it twice. docs/benchmarks.md measures what pruning costs
in recall (on MovieLens 100K, 200 per item cost 3.6% of Recall@10).

Serving (`vocabulary_scores`): a user's scores gather the rows of the items
in their history and add them up, weighted (h x neighbours additions for h
history items), instead of a dense [V] x [V, V] product. The serving module
asks this method for every user's scores and keeps no candidate matrix.

Recency: with `recency_half_life` h > 0 the history an answer is built from
weighs each seen item by 1 + 2 * 2^(-r/h), where r counts the user's items
seen more recently. B itself is unchanged. On a temporal split, what a user
does next follows what they did last (figures in docs/benchmarks.md).

There is nothing to fit by gradient descent: `closed_form` tells the Trainer
to skip `fit`.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from scipy import linalg, sparse

from recsearch import features as keys
from recsearch.model_registry import TOP_K_TASKS, Family, register
from recsearch.modules.models import arguments
from recsearch.modules.models.base import RecommenderModel, rows_in_vocabulary
from recsearch.modules.models.history import SparseRows, user_history
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import Recency
from recsearch.modules.training_data import Catalog

# B is solved as a dense V x V matrix: past this many items use the two-tower model.
MAX_ITEMS = 30_000

# Rows of B pruned at a time (bounds the temporary [rows, V] index arrays).
_PRUNE_ROWS = 1024
# Users scored at once by `vocabulary_scores` (bounds the gathered rows' memory).
SCORE_CHUNK = 32
# `neighbors` 0 keeps as many weights per item as fit this many in all (8 bytes each:
# 100 MB): every weight up to 3,535 items (MovieLens 100K's 1,682 stay dense), 1,250
# per item at 10,000 items, 416 at 30,000.
AUTO_WEIGHTS = 12_500_000


def kept_neighbors(neighbors: int, num_items: int) -> int:
    """Weights kept per item: `neighbors`, or with 0 as many as AUTO_WEIGHTS allows."""
    if neighbors > 0:
        return min(neighbors, num_items)
    return max(1, min(num_items, AUTO_WEIGHTS // max(num_items, 1)))


def _cholesky_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive-definite float32 matrix, in place, by Cholesky."""
    factor, info = linalg.lapack.spotrf(matrix, lower=False, overwrite_a=True)
    if info != 0:
        raise ValueError(f"EASE: the regularised Gram matrix is not positive definite ({info})")
    inverse, info = linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ValueError(f"EASE: the Cholesky inverse failed ({info})")
    upper = np.triu(inverse)
    return upper + np.triu(inverse, 1).T


def precision(history: sparse.spmatrix, l2: float) -> np.ndarray:
    """P = (X^T X + lambda I)^-1 [V, V], float32, from the users x items matrix X."""
    history = sparse.csr_matrix(history, dtype=np.float32)
    users, items = history.shape
    if users >= items:
        gram = (history.T @ history).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += l2
        return _cholesky_inverse(gram)
    # Fewer users than items: through the U x U side (Woodbury).
    kernel = (history @ history.T).toarray().astype(np.float32)
    kernel[np.diag_indices_from(kernel)] += l2
    factor = linalg.cho_factor(kernel, lower=True, overwrite_a=True, check_finite=False)
    solved = linalg.cho_solve(factor, history.toarray(), check_finite=False)  # [U, V]
    result = -(history.T @ solved).astype(np.float32)  # -X^T (X X^T + lambda I)^-1 X
    result[np.diag_indices_from(result)] += 1.0
    result /= l2
    return result


def solve_dense(history: sparse.spmatrix, l2: float) -> np.ndarray:
    """EASE's item-item weights B [V, V] (float32) from the users x items matrix X."""
    weights = precision(history, l2)
    diagonal = np.diag(weights).copy()
    weights /= -diagonal[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def prune(weights: np.ndarray, neighbors: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's `neighbors` largest-magnitude weights, as CSR (row_splits, columns, values).

    Columns are sorted within a row; zeros are dropped. `neighbors` 0 keeps every nonzero
    (the model itself reads 0 as `kept_neighbors`' budget).
    """
    rows, width = weights.shape
    keep = width if neighbors <= 0 else min(neighbors, width)
    columns, values, counts = [], [], []
    for start in range(0, rows, _PRUNE_ROWS):
        block = weights[start : start + _PRUNE_ROWS]
        if keep < width:
            top = np.argpartition(-np.abs(block), keep - 1, axis=1)[:, :keep]
        else:
            top = np.broadcast_to(np.arange(width), block.shape)
        top = np.sort(top, axis=1)
        picked = np.take_along_axis(block, top, axis=1)
        nonzero = picked != 0
        counts.append(nonzero.sum(axis=1))
        columns.append(top[nonzero])
        values.append(picked[nonzero])
    splits = np.concatenate([[0], np.cumsum(np.concatenate(counts))]) if counts else np.zeros(1)
    return (
        splits.astype(np.int64),
        np.concatenate(columns).astype(np.int64) if columns else np.zeros(0, np.int64),
        np.concatenate(values).astype(np.float32) if values else np.zeros(0, np.float32),
    )


def history_matrix(catalog: Catalog) -> sparse.csr_matrix:
    """X: the catalog's users x vocabulary items, 1 where a user had the item."""
    return sparse.csr_matrix(
        (np.ones(len(catalog.seen_items), np.float32), catalog.seen_items, catalog.seen_row_splits),
        shape=(catalog.num_users, catalog.item_vocab_size),
    )


class EASE(RecommenderModel):
    """Item-item linear autoencoder solved in closed form from the training catalog."""

    closed_form = True
    # Serving asks `vocabulary_scores` for every user's scores (no candidate matrix).
    scores_from_history = True

    def __init__(
        self,
        catalog: Catalog,
        l2: float = 100.0,
        recency_half_life: float = 0.0,
        neighbors: int = 0,
    ):
        """Solves the model.

        Args:
          catalog: The training catalog: each user's distinct items and their recency.
          l2: The ridge penalty lambda; must be positive.
          recency_half_life: Half-life, in interactions, of the recency boost
            (0: every seen item weighs the same).
          neighbors: Weights of B kept per item, the largest by magnitude
            (0: as many as AUTO_WEIGHTS allows, every one on a small catalog).

        Raises:
          ValueError: On a non-positive l2, a negative half-life or neighbour
            count, or a vocabulary above MAX_ITEMS (the registry's cap: B is
            solved as a dense V x V matrix).
        """
        super().__init__()
        if l2 <= 0:
            raise ValueError(f"EASE needs a positive l2 (lambda), got {l2}")
        arguments.non_negative(recency_half_life=recency_half_life, neighbors=neighbors)
        vocab = catalog.item_vocab_size
        if vocab > MAX_ITEMS:
            raise ValueError(
                f"EASE solves a dense {vocab} x {vocab} item matrix; above {MAX_ITEMS} items "
                "use model.name: two_tower"
            )
        self.l2 = float(l2)
        self.recency_half_life = float(recency_half_life)
        self.neighbors = int(neighbors)
        started = time.perf_counter()
        kept = kept_neighbors(self.neighbors, vocab)
        weights = solve_dense(history_matrix(catalog), self.l2)
        # Dense when at least half of each row is kept: a float32 matrix is then no
        # larger than the sparse rows (8 bytes a weight), and a matrix product is faster.
        self.dense = 2 * kept >= vocab
        if self.dense:
            self.item_weights = tf.Variable(weights, trainable=False, name="item_weights")
            self.item_item = None
            stored = f"dense ({weights.nbytes / 1e6:.1f} MB)"
        else:
            splits, columns, values = prune(weights, kept)
            self.item_weights = None
            self.item_item = SparseRows(
                splits, columns, values, vocab, name="item_item", column_dtype=np.int32
            )
            stored = f"{len(values):,} weights, {kept:,} per item ({len(values) * 8 / 1e6:.1f} MB)"
        del weights
        self.solve_seconds = time.perf_counter() - started
        message = (
            f"EASE: solved {vocab:,} items from {catalog.num_users:,} users in "
            f"{self.solve_seconds:.1f} s (float32 Cholesky"
            f"{', through the users side' if catalog.num_users < vocab else ''}), kept {stored}"
        )
        logging.info(message)
        # Beside the Trainer's progress line, so the terminal shows what each solve cost.
        sys.stderr.write(f"        {message}\n")
        self.user_history = user_history(catalog, self.recency_half_life)
        self.num_vocab_items = vocab

    def vocabulary_scores(self, users: tf.Tensor) -> tf.Tensor:
        """Each user's score of every vocabulary item [B, V]: their weighted history times B.

        Gathers the B rows of the user's items and adds them up; users outside
        the catalog get zeros. A batch is scored SCORE_CHUNK users at a time, one
        chunk after another: the gathered rows of a whole batch (4,096 users x 37
        items x 1,351 weights at 10k items) took 24 GiB at once.
        """
        users = tf.reshape(tf.cast(users, tf.int64), [-1])
        if self.dense:
            return tf.matmul(self.user_history.dense(users), self.item_weights)
        count = tf.size(users, tf.int64)
        chunks = (count + SCORE_CHUNK - 1) // SCORE_CHUNK
        # Padding rows index no user: their history is empty.
        padding = tf.fill([chunks * SCORE_CHUNK - count], tf.constant(2**62, tf.int64))
        grouped = tf.reshape(tf.concat([users, padding], 0), [-1, SCORE_CHUNK])
        scores = tf.map_fn(
            self._chunk_scores,
            grouped,
            fn_output_signature=tf.TensorSpec([SCORE_CHUNK, self.num_vocab_items], tf.float32),
            parallel_iterations=1,
        )
        return tf.reshape(scores, [-1, self.num_vocab_items])[:count]

    def _chunk_scores(self, users: tf.Tensor) -> tf.Tensor:
        items, weights = self.user_history.ragged(users)
        columns, values = self.item_item.ragged(items.flat_values)
        source = columns.value_rowids()  # which history entry each weight belongs to
        contribution = values.flat_values * tf.gather(weights.flat_values, source)
        row = tf.gather(items.value_rowids(), source)
        index = tf.stack([row, columns.flat_values], axis=1)
        shape = tf.stack([tf.size(users, tf.int64), tf.constant(self.num_vocab_items, tf.int64)])
        return tf.scatter_nd(index, contribution, shape)  # duplicates add up

    def item_rows(self, items: tf.Tensor) -> tf.Tensor:
        """Row j of B for each item j [B, V]: what having it adds to every item (its neighbours)."""
        if self.dense:
            return rows_in_vocabulary(self.item_weights, items, self.num_vocab_items)
        return self.item_item.dense(items)

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Each user's weighted history [B, V]; users outside the catalog get zeros."""
        return self.user_history.dense(features[keys.USER_ID])

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Column i of the kept B for each item i [B, V]; zeros outside the vocabulary.

        Materialises B densely: for small catalogs and tests. Serving uses
        `vocabulary_scores`.
        """
        everything = self.item_rows(tf.range(self.num_vocab_items, dtype=tf.int64))
        items = tf.cast(features[keys.ITEM_ID], tf.int64)
        known = items < self.num_vocab_items
        columns = tf.gather(tf.transpose(everything), tf.where(known, items, 0))
        return tf.where(known[:, None], columns, tf.zeros_like(columns))

    def call(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Scores of the (user, item) pairs of a batch [B]; 0 for items outside the vocabulary."""
        # Each distinct user of the batch is scored once (a batch of pairs repeats users).
        distinct, row = tf.unique(tf.reshape(tf.cast(features[keys.USER_ID], tf.int64), [-1]))
        scores = self.vocabulary_scores(distinct)
        items = tf.cast(features[keys.ITEM_ID], tf.int64)
        known = items < self.num_vocab_items
        index = tf.stack([tf.cast(row, tf.int64), tf.where(known, items, 0)], axis=1)
        picked = tf.gather_nd(scores, index)
        return tf.where(known, picked, tf.zeros_like(picked))

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """Squared reconstruction error of the observed (user, item) cells."""
        return tf.reduce_mean(tf.square(1.0 - self(features)))


@dataclasses.dataclass(frozen=True)
class EaseSettings(Recency):
    """EASE's settings.

    Attributes:
      ease_l2: The ridge penalty lambda.
      ease_neighbors: Item-item weights kept per item, the largest by magnitude;
        0 (the default) keeps as many as fit 100 MB in all: every weight up to
        3,535 items, 1,250 per item at 10,000.
    """

    ease_l2: float = 100.0
    ease_neighbors: int = 0

    def problems(self) -> list[tuple[str, str]]:
        found = list(super().problems())
        if self.ease_l2 <= 0:
            found.append(("ease_l2", f"must be positive, got {self.ease_l2}"))
        if self.ease_neighbors < 0:
            found.append(("ease_neighbors", f"must not be negative, got {self.ease_neighbors}"))
        return found


def build(cfg: EaseSettings, parts: Parts) -> EASE:
    return EASE(
        parts.catalog,
        l2=cfg.ease_l2,
        recency_half_life=cfg.recency_half_life,
        neighbors=cfg.ease_neighbors,
    )


# Scored from sparse item-item rows: nothing for an ANN index to search.
FAMILY = register(
    Family("ease", EaseSettings, build, TOP_K_TASKS, inner_product=False, max_items=MAX_ITEMS)
)
