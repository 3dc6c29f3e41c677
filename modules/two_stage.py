"""Two-stage recommendation: a retrieval model finds N candidates, a ranking network orders them.

The ranking stage learns to order what it will see when serving: the
retrieval stage's own candidates. They are drawn without touching the eval
split, on the inner split of the training data (each user's latest training
interactions, as `model: auto` and the Tuner use it):

1. The retrieval model is trained on the earlier part (`tuning.fit_inner`; under
   `model: auto` the winner's own trial is reused).
2. For each user of the later part it retrieves its `rerank_depth` best unseen
   candidates, as serving would (`RecommenderModule.score_users`).
3. Each later interaction whose item is among those candidates becomes a
   ranking row: the item taken, against `num_negatives` of the user's
   retrieved candidates that they did not take (uniform catalog items fill in
   when fewer were retrieved). The others are left out: the ranker reorders
   the N and never sees another item when serving.

Each row also carries the retrieval score of its positive and negatives,
standardised over the user's N candidates. The ranker (a pair-scoring
network: neumf, wide_deep, deepfm, dcn) adds its output, weighed by a
learned gate that starts small (`PairScorer.rerank_scores`), to that score:
it learns a correction to the retrieval order from the users' and items' fields,
so it starts from the retrieval model's order rather than throwing it away
(a ranker trained without it, on MovieLens behind EASE, lost 39% of EASE's
NDCG@10). It is trained on those rows only, a tenth of the users held back to
stop training when their loss stops falling; the rows come from the inner
split, so one ranker serves the judged and the refit bundle. Serving reranks
each user's N retrieved candidates with it (modules/serving.py).

Each stage's figures on the eval split come from the Evaluator: the bundle's
serving_default gives every example's rank by retrieval alone beside its rank
as served (pipeline/eval_config.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.modules import fitting, serving, tuning
from recsearch.modules.model_factory import make_optimizer

_USERS_PER_CALL = 256


@dataclasses.dataclass
class RankingRows:
    """Training rows of the ranking stage, and what the retrieval stage found.

    Attributes:
      rows: Transformed feature columns of the later interactions whose item
        the retrieval stage retrieved, with
        `keys.HARD_NEGATIVES` [rows, S]: candidate positions retrieved for the
        row's user that the user did not take, and `keys.RETRIEVAL_SCORES`
        [rows, 1 + S]: the retrieval scores of the item and the negatives,
        standardised over the user's candidates (`standardize`).
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
    from_retrieval = 0
    order = np.argsort(users, kind="stable")
    distinct, starts = np.unique(users[order], return_index=True)
    groups = np.split(order, starts[1:])
    standardized = np.zeros((len(users), 1 + negatives), np.float32)
    kept = np.zeros(len(users), dtype=bool)
    for start in range(0, len(distinct), _USERS_PER_CALL):
        chunk = distinct[start : start + _USERS_PER_CALL]
        scores = module.score_users(tf.constant(chunk, tf.int64)).numpy()
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        for row_scores, retrieved, rows in zip(
            scores, top, groups[start : start + _USERS_PER_CALL]
        ):
            retrieved = retrieved[np.isfinite(row_scores[retrieved])]
            z = standardize(row_scores, row_scores[retrieved])
            taken = items[rows]
            pool = retrieved[~np.isin(retrieved, taken) & (retrieved < catalog.item_vocab_size)]
            hits = rows[np.isin(taken, retrieved)]
            kept[hits] = True
            for row in hits:
                picked = rng.choice(pool, size=min(negatives, len(pool)), replace=False)
                fill = rng.integers(0, catalog.item_vocab_size, negatives - len(picked))
                hard[row] = np.concatenate([picked, fill])
                standardized[row] = z[np.concatenate([[items[row]], hard[row]])]
                from_retrieval += len(picked)
    # Only the rows whose item was retrieved: the ranker reorders the N and never sees
    # another item when serving. (Trained on every row, it learnt to push against the
    # retrieval scores of the items it missed, and lost 27% of EASE's NDCG@10 on MovieLens.)
    if not kept.any():
        raise ValueError(
            f"the retrieval stage found none of the users' latest training items in its "
            f"{depth} candidates: nothing to train the ranker on; raise model.rerank_depth"
        )
    return RankingRows(
        rows={
            **{k: v[kept] for k, v in held.items()},
            keys.HARD_NEGATIVES: hard[kept],
            keys.RETRIEVAL_SCORES: standardized[kept],
        },
        recall_at_depth=float(kept.mean()),
        retrieved_share=from_retrieval / max(hard[kept].size, 1),
    )


def standardize(scores: np.ndarray, retrieved: np.ndarray) -> np.ndarray:
    """Scores as z-values over the user's retrieved candidates' scores, clipped (numpy).

    The ranker adds its output to this (modules/serving.py computes the same in
    the graph), so the retrieval order is where it starts from, whatever the
    retrieval model's score scale.
    """
    mean = float(retrieved.mean()) if len(retrieved) else 0.0
    std = float(retrieved.std()) if len(retrieved) > 1 else 1.0
    with np.errstate(invalid="ignore"):
        z = (scores - mean) / max(std, 1e-6)
    clip = serving.SCORE_CLIP
    return np.clip(np.nan_to_num(z, nan=-clip), -clip, clip).astype(np.float32)


def train_ranker(
    name: str, hparams: dict, data: tuning.InnerData, rows: RankingRows, log_dir: str
) -> tuple[tf.keras.Model, dict]:
    """The ranker, trained on the ranking rows with early stopping.

    A tenth of the users' rows are held back; training stops when their loss
    stops falling (after at most `epochs`), with the best epoch's weights.

    Returns:
      The ranker and its history: "loss" and "val_loss" per epoch, "epochs" kept.
    """
    seed = int(hparams["seed"])
    tf.keras.utils.set_random_seed(seed)
    users = rows.rows[keys.USER_ID].astype(np.int64)
    held_back = (users * 2654435761 + seed) % 10 == 0
    if held_back.all() or not held_back.any():
        held_back = np.arange(len(users)) % 10 == 0
    train = {k: v[~held_back] for k, v in rows.rows.items()}
    check = {k: v[held_back] for k, v in rows.rows.items()}
    batch = int(hparams["batch_size"])
    dataset = tuning.column_dataset(train, seed)
    ranker = fitting.create_model(name, hparams, data.spec, data.tft_output, data.catalog)
    ranker.compute_loss(next(iter(dataset(batch, shuffle=False))))
    ranker.compile(optimizer=make_optimizer(hparams))
    stop = tf.keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=1, restore_best_weights=True
    )
    epochs = int(hparams["epochs"])
    history = ranker.fit(
        dataset(batch, shuffle=True),
        validation_data=tuning.column_dataset(check, seed)(batch, shuffle=False),
        epochs=epochs,
        callbacks=[
            stop,
            tf.keras.callbacks.TensorBoard(log_dir=log_dir),
            fitting.EpochProgress(epochs),
        ],
        verbose=0,
    ).history
    losses = {k: [float(v) for v in history.get(k, [])] for k in ("loss", "val_loss")}
    kept = int(np.argmin(losses["val_loss"])) + 1 if losses["val_loss"] else 0
    return ranker, {**losses, "epochs": kept}
