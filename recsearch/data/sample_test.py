"""The sample shop: deterministic, complete, and with structure a model can learn."""

import numpy as np
import pytest

from recsearch import ranking_metrics
from recsearch.config import Split
from recsearch.data import sample, splits

SMALL = sample.SampleSpec(users=200, items=120, days=30, seed=5)


@pytest.fixture(scope="module")
def shop():
    return sample.generate(SMALL)


def test_deterministic(shop):
    again = sample.generate(SMALL)
    assert shop["interactions"].equals(again["interactions"])
    assert shop["images"] == again["images"]


@pytest.mark.parametrize("items", [6, 400])
def test_session_draws_are_numpys_weighted_choice_without_replacement(items):
    # The cached draws must consume the same random numbers and give the same items as
    # rng.choice(replace=False, p=...) with the session's weights built afresh; on six items
    # with a steep appeal most sessions repeat an item in the first round and redraw.
    rng = np.random.default_rng(3)
    appeal = rng.pareto(0.5, items) + 1e-3
    release_day = np.where(rng.random(items) < 0.3, rng.integers(0, 5, items), 0)
    category = rng.integers(0, 2, items)
    draws = sample._SessionDraws(appeal, release_day, category)
    ours, theirs = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(300):
        day, intent = int(ours.integers(0, 5)), int(ours.integers(0, 2))
        assert (day, intent) == (int(theirs.integers(0, 5)), int(theirs.integers(0, 2)))
        weight = appeal * (release_day <= day) * np.where(category == intent, 1.0, 0.01)
        size = min(int(ours.integers(1, 6)), int(np.count_nonzero(weight)))
        assert size == min(int(theirs.integers(1, 6)), int(np.count_nonzero(weight)))
        expected = theirs.choice(items, size=size, replace=False, p=weight / weight.sum())
        got = draws.distinct(ours, day, intent, size)
        np.testing.assert_array_equal(got, expected)
    assert ours.random() == theirs.random()
    assert len(draws._cdfs) <= 10  # one cumulative table per (day, intent)
    if items == 6:
        assert draws.redraws > 50


def test_tables_have_the_promised_columns(shop):
    assert set(shop["users"]) == {"user_id", "age", "country"}
    assert {"category", "title", "description", "price", "image"} <= set(shop["items"])
    events = shop["interactions"]
    assert set(events["event"]) == {"view", "cart", "purchase"}
    assert events.loc[events["event"] == "purchase", "rating"].between(1, 5).all()
    assert events.loc[events["event"] != "purchase", "rating"].isna().all()
    assert len(shop["images"]) == SMALL.items
    assert all(png.startswith(b"\x89PNG") for png in shop["images"].values())


def test_taste_structure_beats_popularity(shop):
    """Item-item co-occurrence (personal) beats popularity on a temporal split."""
    parts = splits.split_interactions(shop["interactions"].reset_index(drop=True), Split(), "x")
    train, held = parts["train"], parts["eval"]
    items = {v: i for i, v in enumerate(sorted(train["item_id"].unique()))}
    users = {v: i for i, v in enumerate(sorted(train["user_id"].unique()))}
    x = np.zeros((len(users), len(items)))
    x[train["user_id"].map(users), train["item_id"].map(items)] = 1.0
    popularity, cooccurrence = x.sum(0), x.T @ x
    np.fill_diagonal(cooccurrence, 0)

    def score(scores_for):
        ranks = []
        for user, group in held.groupby("user_id"):
            u = users[user]
            relevant = group["item_id"].map(items).to_numpy()
            ranks.append(ranking_metrics.ranks_of(scores_for(u), relevant, x[u] > 0))
        return ranking_metrics.mean_metrics(ranks, 10)["recall"]

    personal = score(lambda u: x[u] @ cooccurrence)
    assert personal > 1.3 * score(lambda u: popularity)


def test_write_makes_a_loadable_config(tmp_path):
    from recsearch.config import load_config
    from recsearch.data import tables

    path = sample.write(str(tmp_path), sample.SampleSpec(users=20, items=15, days=5))
    config = load_config(path)
    joined = tables.load_joined(config)
    assert {"user__age", "item__category", "item__title"} <= set(joined.columns)
    assert (tmp_path / "images" / "i0000.png").exists()
