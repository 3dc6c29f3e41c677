"""Two-stage recommendation: a retrieval model finds N candidates, a ranking network orders them.

The ranking stage learns to order what it will see when serving: the
retrieval stage's own candidates. They are drawn without touching the eval
split, on the inner split of the training data (each user's latest training
interactions, as `model: auto` and the Tuner use it):

1. The retrieval model is trained on the earlier part (`tuning.fit_inner`; under
   `model: auto` the winner's own trial is reused).
2. For each user of the later part it retrieves its `rerank_depth` best unseen
   candidates, as serving would (`RecommenderModule.score_users`).
3. Each later interaction becomes a ranking row: the item taken, against
   `num_negatives` of the user's retrieved candidates that they did not take
   (uniform catalog items fill in when fewer were retrieved).

The ranker (a pair-scoring network: neumf, wide_deep, deepfm, dcn) is first
trained the usual way on the whole training data with negatives drawn from the
catalog, so every user and item has learned fields; it is then fine-tuned on
those rows, where the negatives are the candidates the retrieval stage puts
next to the positive. Serving reranks each user's N retrieved candidates with
it (modules/serving.py).

Each stage's figures on the eval split come from the Evaluator: the bundle's
serving_default gives every example's rank by retrieval alone beside its rank
as served (pipeline/eval_config.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.modules import fitting, serving, tuning

STAGES_FILE = "two_stage.json"
_USERS_PER_CALL = 256


@dataclasses.dataclass
class RankingRows:
    """Training rows of the ranking stage, and what the retrieval stage found.

    Attributes:
      rows: Transformed feature columns of the later interactions, with
        `keys.HARD_NEGATIVES` [rows, S]: candidate positions retrieved for the
        row's user that the user did not take.
      recall_at_depth: Share of the later interactions the retrieval stage
        put in its N candidates (the most the ranker can recover).
      retrieved_share: Share of the negatives that came from the retrieval
        stage (the rest are uniform catalog items).
    """

    rows: dict[str, np.ndarray]
    recall_at_depth: float
    retrieved_share: float


def ranking_rows(
    retriever: tf.keras.Model,
    data: tuning.InnerData,
    depth: int,
    negatives: int,
    seed: int,
) -> RankingRows:
    """The ranking stage's training rows, drawn from `retriever`'s candidates on `data.held`.

    Raises:
      ValueError: No later interaction is left to learn from.
    """
    catalog = data.catalog
    held = {k: np.asarray(v) for k, v in data.held.items()}
    users = held[keys.USER_ID].astype(np.int64)
    items = held[keys.ITEM_ID].astype(np.int64)
    keep = items < catalog.item_vocab_size
    held = {k: v[keep] for k, v in held.items()}
    users, items = users[keep], items[keep]
    if not len(users):
        raise ValueError("no later training interaction to draw ranking rows from")
    module = serving.RecommenderModule(
        retriever, catalog, data.tft_output, top_k=1, exclude_seen=True
    )
    depth = min(depth, catalog.num_candidates)
    rng = np.random.default_rng(seed)
    hard = np.zeros((len(users), negatives), np.int64)
    found, from_retrieval = 0, 0
    order = np.argsort(users, kind="stable")
    distinct, starts = np.unique(users[order], return_index=True)
    groups = np.split(order, starts[1:])
    for start in range(0, len(distinct), _USERS_PER_CALL):
        chunk = distinct[start : start + _USERS_PER_CALL]
        scores = module.score_users(tf.constant(chunk, tf.int64)).numpy()
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        for row_scores, retrieved, rows in zip(
            scores, top, groups[start : start + _USERS_PER_CALL]
        ):
            retrieved = retrieved[np.isfinite(row_scores[retrieved])]
            taken = items[rows]
            found += int(np.isin(taken, retrieved).sum())
            pool = retrieved[~np.isin(retrieved, taken) & (retrieved < catalog.item_vocab_size)]
            for row in rows:
                picked = rng.choice(pool, size=min(negatives, len(pool)), replace=False)
                fill = rng.integers(0, catalog.item_vocab_size, negatives - len(picked))
                hard[row] = np.concatenate([picked, fill])
                from_retrieval += len(picked)
    return RankingRows(
        rows={**held, keys.HARD_NEGATIVES: hard},
        recall_at_depth=found / len(users),
        retrieved_share=from_retrieval / hard.size,
    )


def fine_tune(
    ranker: tf.keras.Model, rows: RankingRows, hparams: dict, log_dir: str
) -> list[float]:
    """Trains the ranker further on the retrieval stage's candidates; the loss per epoch."""
    dataset = tuning.column_dataset(rows.rows, int(hparams["seed"]))
    return fitting.fit(ranker, dataset, hparams, 0, log_dir)


def write(figures: dict, model_run_dir: str) -> None:
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, STAGES_FILE), "w") as f:
        json.dump(figures, f, indent=2)
    logging.info("Trainer: two stages on the inner split: %s", figures)


def read(model_run_dir: str) -> dict | None:
    """The stage figures a two-stage Trainer run recorded, or None."""
    path = os.path.join(model_run_dir, STAGES_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)
