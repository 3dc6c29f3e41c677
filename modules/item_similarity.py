"""Judging `similar_items` on the inner split: do an item's most similar items hold the
other items its users went on to take?

For every user with two or more held-out items (each user's latest training
interactions, `tuning.inner_data`), each held-out item that has interactions
in the fitting part is an anchor, and the user's other held-out items are what
its similar items should hold. The measure is their recall@K, averaged over
the anchors: co-occurrence within the same users' next interactions, the
question `similar_items` answers on a product page. `model: auto` measures the
content model and the winner with it and lets the better one answer warm
items (modules/selection.py); cold items only have content.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.modules import serving, tuning

# At most this many (user, anchor) pairs are scored: a fixed, seeded sample.
MAX_ANCHORS = 3000
_BATCH = 256


def anchor_pairs(
    held: dict, item_counts: np.ndarray, vocab_size: int, seed: int = 0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The anchors (candidate positions) and, for each, the other held-out items of its user.

    Args:
      held: Columns of the held-out rows (user and item vocabulary indices).
      item_counts: Interactions of each candidate in the fitting part.
      vocab_size: Items at or above it are out of the vocabulary (skipped).
      seed: Seeds the sample when there are more than MAX_ANCHORS pairs.
    """
    users = np.asarray(held[keys.USER_ID], np.int64)
    items = np.asarray(held[keys.ITEM_ID], np.int64)
    keep = items < vocab_size
    pairs = np.unique(np.stack([users[keep], items[keep]], axis=1), axis=0)
    anchors, targets = [], []
    if len(pairs):
        _, starts = np.unique(pairs[:, 0], return_index=True)
        for group in np.split(pairs[:, 1], starts[1:]):
            if len(group) < 2:
                continue
            for item in group:
                if item_counts[item] > 0:
                    anchors.append(item)
                    targets.append(group[group != item])
    if len(anchors) > MAX_ANCHORS:
        chosen = np.sort(np.random.default_rng(seed).choice(len(anchors), MAX_ANCHORS, False))
        anchors = [anchors[i] for i in chosen]
        targets = [targets[i] for i in chosen]
    return np.asarray(anchors, np.int64), targets


def recall_of(found: np.ndarray, targets: list[np.ndarray], k: int) -> float:
    """Mean over anchors of |top-K found ∩ targets| / min(K, |targets|)."""
    if not len(targets):
        return float("nan")
    hits = [
        len(set(row[:k].tolist()) & set(want.tolist())) / min(k, len(want))
        for row, want in zip(found, targets)
    ]
    return float(np.mean(hits))


def similar_positions(module: serving.RecommenderModule, anchors: np.ndarray) -> np.ndarray:
    """The candidate positions of each anchor's top-K similar items, by the module's own
    similarity (its content vectors, or its item-item rows). [A, K]."""
    position = {item: i for i, item in enumerate(module.item_ids.numpy())}
    rows = []
    for start in range(0, len(anchors), _BATCH):
        chunk = tf.constant(anchors[start : start + _BATCH], tf.int64)
        ids = module._similar(chunk)["item_ids"].numpy()
        rows.append(np.vectorize(position.__getitem__, otypes=[np.int64])(ids))
    return np.concatenate(rows) if rows else np.zeros([0, module.top_k], np.int64)


def measure(model: tf.keras.Model, data: tuning.InnerData, k: int) -> float:
    """`model`'s similar-items recall@K on the inner split (see the module docstring)."""
    catalog = data.catalog
    anchors, targets = anchor_pairs(
        data.held, np.asarray(catalog.item_counts), catalog.item_vocab_size
    )
    if not len(anchors):
        return float("nan")
    module = serving.RecommenderModule(model, catalog, data.tft_output, top_k=k)
    return recall_of(similar_positions(module, anchors), targets, k)
