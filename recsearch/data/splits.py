"""Train/eval splits of an interaction log: per-user temporal or per-user random."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from recsearch import features as keys
from recsearch.config import PipelineConfig, Split

TRAIN = "train"
EVAL = "eval"
# Not a split of the interactions: one row per item of the items table.
CATALOG = "catalog"
# Every held-out interaction, unfiltered: with train, the whole log (for the refit).
HELDOUT = "heldout"


def output_splits(config: PipelineConfig) -> list[str]:
    """train and eval; every held-out row for a refit; the item catalog with an items table."""
    names = [TRAIN, EVAL]
    if config.release.refit:
        names.append(HELDOUT)
    if config.items is not None:
        names.append(CATALOG)
    return names


def analyzed_splits(config: PipelineConfig) -> list[str]:
    """The splits Transform learns vocabularies and statistics from.

    With a refit, the served model is trained on the whole log, so its ids
    must all be in the vocabularies: items that first occur in the held-out
    part are known (the candidate judged on eval has them untrained, as any
    item with no training interaction). With an items table the catalog is
    analyzed too: the token vocabulary is learnt from each item's text once
    (the other analyzers skip its rows, modules/preprocessing.py).
    """
    names = [TRAIN, HELDOUT] if config.release.refit else [TRAIN]
    return names + ([CATALOG] if config.items is not None else [])


def eval_counts(sizes: np.ndarray, fraction: float) -> np.ndarray:
    """How many interactions each user holds out: round(fraction * n), at most n - 1."""
    held = np.floor(sizes * fraction + 0.5).astype(np.int64)
    return np.minimum(held, np.maximum(sizes - 1, 0))


def user_draws(seed: int, user: str, n: int) -> np.ndarray:
    """The random split's draws for one user's n interactions, in log order.

    Seeded by the split's seed and the user alone, so a user's split does
    not depend on the rest of the log or on the order it is read in.
    """
    return np.random.default_rng([seed, zlib.crc32(user.encode())]).random(n)


def user_sample_keys(users: pd.Series) -> np.ndarray:
    """A fixed key per user id (int64, 63 bits of a hash), the same in every process and run.

    The eval split's user sample (`evaluation.max_users`) keeps the users whose
    keys are lowest.
    """
    hashed = pd.util.hash_pandas_object(users.astype(str), index=False).to_numpy()
    return (hashed >> np.uint64(1)).astype(np.int64)


def sample_users(frame: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """`frame`'s rows of at most `limit` users: those whose `user_sample_keys` are lowest.

    The eval split's sample (`evaluation.max_users`); RecsysExampleGen draws
    the same one as a Beam pass (`beam_data._sample_users`). None: every user.
    """
    if limit is None or not len(frame):
        return frame
    user_keys = user_sample_keys(frame[keys.USER_ID])
    distinct = np.unique(user_keys)
    if len(distinct) <= limit:
        return frame
    return frame[user_keys <= distinct[limit - 1]]


def method_for(split: Split, has_timestamps: bool) -> str:
    """The split method to use: `auto` is temporal with timestamps, random without."""
    if split.method == "auto":
        return "temporal" if has_timestamps else "random"
    return split.method


def _pair_codes(frame: pd.DataFrame) -> np.ndarray:
    """One int64 per (user, item) pair of the frame's rows."""
    users, _ = pd.factorize(frame[keys.USER_ID])
    items, item_values = pd.factorize(frame[keys.ITEM_ID])
    return users.astype(np.int64) * max(len(item_values), 1) + items


def split_interactions(frame: pd.DataFrame, split: Split, task: str) -> dict[str, pd.DataFrame]:
    """Splits interactions per user into train and eval.

    Temporal: each user's latest interactions (ties broken by file order) go to
    eval; for the sequential task, only the latest one (leave-last-out).
    Random: a seeded random subset of each user's interactions goes to eval.
    Auto: temporal when the frame has timestamps, random otherwise.
    Eval rows whose item never occurs in train are dropped when
    `split.drop_unseen_items`. For top-K tasks, eval keeps one row per
    (user, item), the last (strongest) event, and drops items the user
    already has in train, because those are excluded from recommendations.

    Args:
      frame: Interactions with at least user_id, item_id (and timestamp for
        the temporal split), in file order.
      split: The split settings.
      task: The pipeline task.

    Returns:
      {"train": frame, "eval": frame, "heldout": frame}, train and heldout in
      chronological (or file) order, eval user by user, each user's rows in
      that order. "heldout" holds every held-out interaction before the
      filters above, so train and heldout together are the whole log.
    """
    order = np.arange(len(frame))
    method = method_for(split, keys.TIMESTAMP in frame)
    if method == "temporal":
        position = pd.DataFrame(
            {"u": frame[keys.USER_ID].to_numpy(), "t": frame[keys.TIMESTAMP].to_numpy(), "o": order}
        ).sort_values(["u", "t", "o"], kind="stable")
    else:
        users = frame[keys.USER_ID].to_numpy()
        draws = np.zeros(len(frame))
        for user, rows in pd.Series(order).groupby(users, sort=False):
            draws[rows.to_numpy()] = user_draws(split.seed, str(user), len(rows))
        position = pd.DataFrame({"u": users, "r": draws, "o": order}).sort_values(
            ["u", "r"], kind="stable"
        )
    rank_in_user = position.groupby("u", sort=False).cumcount().to_numpy()
    sizes = position.groupby("u", sort=False)["o"].transform("size").to_numpy()
    if task == "sequential":  # leave the last one out: the next item
        held = np.minimum(1, np.maximum(sizes - 1, 0))
    else:
        held = eval_counts(sizes, split.eval_fraction)
    is_eval = np.zeros(len(frame), dtype=bool)
    is_eval[position["o"].to_numpy()] = rank_in_user >= sizes - held

    train = frame[~is_eval]
    heldout = frame[is_eval]
    scored = is_eval.copy()  # the held-out rows that are scored
    if split.drop_unseen_items:
        scored &= frame[keys.ITEM_ID].isin(set(train[keys.ITEM_ID])).to_numpy()
    if task != "rating":
        pair = _pair_codes(frame)
        scored &= ~np.isin(pair, pair[~is_eval])  # pairs already in train are not scored
        # One row per pair, the last (strongest) event.
        last = np.zeros(len(frame), dtype=bool)
        positions = np.flatnonzero(scored)
        last[positions] = ~pd.Series(pair[positions]).duplicated(keep="last").to_numpy()
        scored &= last
    evaluation = frame[scored]
    parts = {TRAIN: train, EVAL: evaluation, HELDOUT: heldout}
    if keys.TIMESTAMP in frame:
        parts = {k: v.sort_values(keys.TIMESTAMP, kind="stable") for k, v in parts.items()}
    # The eval split user by user (in time order within each): the Evaluator's
    # batches then hold few users, and serving_default ranks each user once.
    parts[EVAL] = parts[EVAL].sort_values(keys.USER_ID, kind="stable")
    return {name: part.reset_index(drop=True) for name, part in parts.items()}
