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

Freshness: with timestamps, each row also carries its candidates' ages at the
row's time, log(1 + days since the item's first training interaction); items
that had not appeared by then are not drawn as its negatives (they did not
exist yet). The ranker learns a term per age bucket from them; serving computes
the ages from the request's time (modules/serving.py).

Each row also carries the retrieval score of its positive and negatives,
standardised over the user's N candidates. The ranker (a pair-scoring
network: neumf, wide_deep, deepfm, dcn) adds its output, weighed by a
learned gate that starts small (`PairScorer.rerank_scores`), to that score:
it learns a correction to the retrieval order from the users' and items' fields,
so it starts from the retrieval model's order rather than throwing it away
(a ranker trained without it, on MovieLens behind EASE, lost 39% of EASE's
NDCG@10). It is trained on those rows only, a tenth of the users held back to
stop training when their loss stops falling. Serving reranks each user's N
retrieved candidates with it (modules/serving.py).

The refit bundle (the one pushed) gets a ranker of its own, trained on those
rows and on as many again from the held-out split: the judged candidate's
retrieval model (trained on the whole train split) retrieves for each user's
held-out interactions, the latest of the log (`ranker_stage.refit_ranker`). On
MovieLens the candidate's ranker, served a period later than its rows, kept a
quarter of the gain it showed on the eval split; trained again with the latest
rows, the served bundle's NDCG@10 rose from 1.02x to 1.06x that of EASE alone
(docs/benchmarks.md).

Each stage's figures on the eval split come from the Evaluator: the bundle's
serving_default gives every example's rank by retrieval alone beside its rank
as served (components/evaluator/eval_config.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch.config import Model
from recsearch.modules import fitting, serving, training_data, tuning
from recsearch.modules.model_factory import make_optimizer

_USERS_PER_CALL = 256
_STEPS_PER_EPOCH = 64


class NoRankingRows(ValueError):
    """No interaction the ranking stage could learn from."""


@dataclasses.dataclass
class RankingRows:
    """Training rows of the ranking stage, and what the retrieval stage found.

    Attributes:
      rows: Transformed feature columns of the later interactions whose item
        the retrieval stage retrieved, with
        `keys.HARD_NEGATIVES` [rows, S]: candidate positions retrieved for the
        row's user that the user did not take, `keys.RETRIEVAL_SCORES`
        [rows, 1 + S]: the retrieval scores of the item and the negatives,
        standardised over the user's candidates (`standardize`), and with
        timestamps `keys.CANDIDATE_AGES` [rows, 1 + S]: their ages at the
        row's time (`item_ages`).
      interactions: The later interactions looked at (items in the vocabulary);
        the rows are those the retrieval stage put in its N candidates.
      retrieved_negatives: How many of the rows' negatives came from the
        retrieval stage (the rest are uniform catalog items).
    """

    rows: dict[str, np.ndarray]
    interactions: int
    retrieved_negatives: int

    @property
    def recall_at_depth(self) -> float:
        """Share of the later interactions in the N candidates (the most the ranker can recover)."""
        return len(self.rows[keys.USER_ID]) / max(self.interactions, 1)

    @property
    def retrieved_share(self) -> float:
        """Share of the negatives that came from the retrieval stage."""
        return self.retrieved_negatives / max(self.rows[keys.HARD_NEGATIVES].size, 1)


def ranking_rows(
    retriever: tf.keras.Model,
    data: tuning.InnerData,
    depth: int,
    negatives: int,
    seed: int,
    freshness: bool = False,
) -> RankingRows:
    """The ranking stage's training rows, drawn from `retriever`'s candidates on `data.held`.

    `freshness`: with timestamps, give each row its candidates' ages.

    Raises:
      NoRankingRows: No later interaction is left to learn from.
    """
    catalog = data.catalog
    held = {k: np.asarray(v) for k, v in data.held.items()}
    users = held[keys.USER_ID].astype(np.int64)
    items = held[keys.ITEM_ID].astype(np.int64)
    keep = items < catalog.item_vocab_size
    held = {k: v[keep] for k, v in held.items()}
    users, items = users[keep], items[keep]
    if not len(users):
        raise NoRankingRows("no later training interaction to draw ranking rows from")
    module = serving.RecommenderModule(
        retriever, catalog, data.tft_output, top_k=1, exclude_seen=True
    )
    depth = min(depth, catalog.num_candidates)
    rng = np.random.default_rng(seed)
    first_seen = times = None
    if data.spec.has_timestamp and keys.TIMESTAMP in held and catalog.item_first_seen is not None:
        times = held[keys.TIMESTAMP].astype(np.int64)
        # What a bundle trained on the fitting part would know: its first appearances
        # (items it never saw count as new at its end), as serving reads the catalog's.
        first_seen = catalog.item_first_seen[: catalog.item_vocab_size]
        by_age = np.argsort(first_seen, kind="stable")
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
                # An item that had not appeared by the row's time is no negative of it.
                existing = pool if times is None else pool[first_seen[pool] <= times[row]]
                picked = rng.choice(existing, size=min(negatives, len(existing)), replace=False)
                if times is None:
                    fill = rng.integers(0, catalog.item_vocab_size, negatives - len(picked))
                else:
                    existed = np.searchsorted(first_seen[by_age], times[row], side="right")
                    fill = by_age[rng.integers(0, max(existed, 1), negatives - len(picked))]
                hard[row] = np.concatenate([picked, fill])
                standardized[row] = z[np.concatenate([[items[row]], hard[row]])]
                from_retrieval += len(picked)
    # Only the rows whose item was retrieved: the ranker reorders the N and never sees
    # another item when serving. (Trained on every row, it learnt to push against the
    # retrieval scores of the items it missed, and lost 27% of EASE's NDCG@10 on MovieLens.)
    if not kept.any():
        raise NoRankingRows(
            f"the retrieval stage found none of the users' latest training items in its "
            f"{depth} candidates: nothing to train the ranker on; raise model.rerank_depth"
        )
    rows = {
        **{k: v[kept] for k, v in held.items()},
        keys.HARD_NEGATIVES: hard[kept],
        keys.RETRIEVAL_SCORES: standardized[kept],
    }
    if freshness and first_seen is not None:
        candidates = np.concatenate([items[:, None], hard], axis=1)[kept]
        rows[keys.CANDIDATE_AGES] = item_ages(first_seen[candidates], times[kept][:, None])
    return RankingRows(
        rows=rows,
        interactions=len(users),
        retrieved_negatives=from_retrieval,
    )


def join(first: RankingRows, second: RankingRows) -> RankingRows:
    """Both sets of rows as one; the shares are over the interactions and negatives of both."""
    if set(first.rows) != set(second.rows):
        raise ValueError(
            f"ranking rows differ in columns: {sorted(first.rows)} != {sorted(second.rows)}"
        )
    return RankingRows(
        rows={k: np.concatenate([first.rows[k], second.rows[k]]) for k in first.rows},
        interactions=first.interactions + second.interactions,
        retrieved_negatives=first.retrieved_negatives + second.retrieved_negatives,
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


def item_ages(first_seen: np.ndarray, now: np.ndarray) -> np.ndarray:
    """log(1 + days) from items' first appearance to `now` (seconds, broadcast), 0 if later.

    The numpy twin of `RecommenderModule._ages`.
    """
    days = np.maximum(np.asarray(now, np.float64) - first_seen, 0.0) / serving.DAY_SECONDS
    return np.log1p(days).astype(np.float32)


def train_ranker(
    name: str, settings: Model, data: tuning.InnerData, rows: RankingRows, log_dir: str
) -> tuple[tf.keras.Model, dict]:
    """The ranker, trained on the ranking rows with early stopping.

    A tenth of the users' rows are held back; training stops when their loss
    has not fallen for two epochs (after at most `epochs`), with the best
    epoch's weights. Batches give at least _STEPS_PER_EPOCH steps an epoch.

    Returns:
      The ranker and its history: "loss" and "val_loss" per epoch, "epochs" kept,
      and with item ages "freshness", its term per age bucket.
    """
    seed = settings.seed
    tf.keras.utils.set_random_seed(seed)
    users = rows.rows[keys.USER_ID].astype(np.int64)
    held_back = (users * 2654435761 + seed) % 10 == 0
    if held_back.all() or not held_back.any():
        held_back = np.arange(len(users)) % 10 == 0
    train = {k: v[~held_back] for k, v in rows.rows.items()}
    check = {k: v[held_back] for k, v in rows.rows.items()}
    # The rows are few (a share of the users' latest interactions): batches small
    # enough for at least _STEPS_PER_EPOCH steps an epoch.
    batch = min(settings.batch_size, max(32, len(train[keys.USER_ID]) // _STEPS_PER_EPOCH))
    dataset = training_data.column_dataset(train, seed)
    ranker = fitting.create_model(name, settings, data.spec, data.tft_output, data.catalog)
    ranker.compute_loss(next(iter(dataset(batch, shuffle=False))))
    ranker.compile(optimizer=make_optimizer(settings))
    # Serving gives it the candidates' ages only if it learnt from them.
    ranker.reads_ages = keys.CANDIDATE_AGES in train
    stop = tf.keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=2, restore_best_weights=True
    )
    epochs = settings.epochs
    history = ranker.fit(
        dataset(batch, shuffle=True),
        validation_data=training_data.column_dataset(check, seed)(batch, shuffle=False),
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
    record = {**losses, "epochs": kept}
    if keys.CANDIDATE_AGES in rows.rows:
        # The learned freshness term per age bucket (pair_scorer.AGE_BOUNDARIES).
        record["freshness"] = [round(float(v), 4) for v in ranker.freshness.numpy()]
    return ranker, record
