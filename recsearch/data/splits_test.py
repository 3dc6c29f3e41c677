"""Per-user splits, checked row by row on a small log."""

import numpy as np
import pandas as pd

from recsearch.config import Split
from recsearch.data import splits


def _log():
    # u1 has five interactions, u2 two; ties in time keep file order.
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u1", "u1", "u2", "u1"],
            "item_id": ["a", "b", "a", "c", "d", "x", "a"],
            "timestamp": [1, 2, 3, 4, 4, 5, 9],
        }
    )


def test_eval_counts_round_and_keep_one_in_train():
    assert list(splits.eval_counts(np.array([1, 2, 5, 10, 20]), 0.2)) == [0, 0, 1, 2, 4]
    assert list(splits.eval_counts(np.array([2]), 0.9)) == [1]


def test_temporal_split_holds_out_latest_per_user():
    parts = splits.split_interactions(_log(), Split(eval_fraction=0.4), task="rating")
    # u1: 5 rows -> 2 held out (d at t=4, a at t=9); u2: 2 rows -> 1 held out (x).
    # d and x never occur in train, so only u1's repeat of a stays in eval.
    assert list(parts["train"]["item_id"]) == ["a", "b", "a", "c"]
    assert list(parts["eval"]["item_id"]) == ["a"]


def test_top_k_eval_drops_items_seen_in_train_and_duplicates():
    log = _log()
    log.loc[4, "item_id"] = "b"  # u1's held-out 'd' becomes 'b', which u1 has in train
    parts = splits.split_interactions(log, Split(eval_fraction=0.4), task="retrieval")
    assert parts["eval"].empty
    keep = splits.split_interactions(
        log, Split(eval_fraction=0.4, drop_unseen_items=False), task="rating"
    )
    assert sorted(keep["eval"]["item_id"]) == ["a", "b", "x"]


def test_random_split_is_seeded_and_per_user():
    log = pd.DataFrame({"user_id": ["u"] * 10, "item_id": list("abcdefghij")})
    one = splits.split_interactions(
        log, Split(method="random", seed=3, drop_unseen_items=False), "x"
    )
    two = splits.split_interactions(
        log, Split(method="random", seed=3, drop_unseen_items=False), "x"
    )
    assert list(one["eval"]["item_id"]) == list(two["eval"]["item_id"])
    assert len(one["eval"]) == 2 and len(one["train"]) == 8


def test_sequential_holds_out_only_each_users_last_interaction():
    log = _log()
    log.loc[2, "item_id"] = "x"  # u2 had x twice; u1's last item is x too
    log.loc[6, "item_id"] = "x"
    parts = splits.split_interactions(log, Split(eval_fraction=0.5), task="sequential")
    # u1 keeps four rows in train (a, b, c, d), u2 one (x at t=3); u2's held-out
    # x is in its train history, so it is dropped like any seen item.
    assert list(parts["train"]["item_id"]) == ["a", "b", "x", "c", "d"]
    assert list(parts["eval"][["user_id", "item_id"]].itertuples(index=False, name=None)) == [
        ("u1", "x")
    ]


def test_random_split_of_a_user_does_not_depend_on_the_rest_of_the_log():
    """Seeded per user: the same rows held out alone, among others, or in any shard."""
    rng = np.random.default_rng(1)
    log = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in rng.integers(0, 6, size=60)],
            "item_id": [f"i{j}" for j in range(60)],
        }
    )
    split = Split(method="random", eval_fraction=0.3, seed=5, drop_unseen_items=False)
    whole = splits.split_interactions(log, split, task="rating")["heldout"]
    alone = splits.split_interactions(log[log.user_id == "u3"], split, task="rating")["heldout"]
    assert list(whole[whole.user_id == "u3"]["item_id"]) == list(alone["item_id"])
    assert len(alone) == splits.eval_counts(np.array([(log.user_id == "u3").sum()]), 0.3)[0]
    other = splits.split_interactions(
        log, Split(method="random", eval_fraction=0.3, seed=6), "rating"
    )
    assert set(other["heldout"]["item_id"]) != set(whole["item_id"])  # the seed matters


def test_user_sample_keeps_every_row_of_the_lowest_key_users():
    log = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u1", "u3", "u4"], "item_id": list("abcdef")})
    user_keys = dict(zip(log["user_id"], splits.user_sample_keys(log["user_id"])))
    lowest = sorted(user_keys, key=user_keys.get)[:2]
    sampled = splits.sample_users(log, 2)
    assert set(sampled["user_id"]) == set(lowest)
    pd.testing.assert_frame_equal(sampled, log[log["user_id"].isin(lowest)])
    # No limit, or no more users than it: the frame as it is.
    assert splits.sample_users(log, None) is log
    assert splits.sample_users(log, 4) is log
