"""The quality benchmark's splits, catalog and scorers on tiny hand-made data."""

import numpy as np
import pandas as pd
import pytest

from recsearch.apps.bench import baselines, quality
from recsearch.apps.bench.quality import data as protocol_data
from recsearch.apps.bench.quality import ours as our_models
from recsearch.apps.bench.quality import peers


def _ratings():
    rows = []
    for u in range(6):
        for j in range(8):
            item = (u + 3 * j) % 10
            rows.append((f"u{u}", f"i{item}", 1 + (u + j) % 5, 1000 * u + 10 * j))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


def test_stratified_split_holds_out_a_quarter_of_each_user():
    train, held = protocol_data.stratified_split(_ratings())
    assert (held.groupby("user_id").size() == 2).all()  # round(0.25 * 8)
    assert (train.groupby("user_id").size() == 6).all()


def test_temporal_and_leave_last_out_hold_out_the_latest():
    ratings = _ratings()
    train, held = protocol_data.temporal_split(ratings)
    for user, group in held.groupby("user_id"):
        assert group["timestamp"].min() > train[train.user_id == user]["timestamp"].max()
    train, last = protocol_data.leave_last_out(ratings)
    assert list(last.groupby("user_id")["timestamp"].max()) == [70 + 1000 * u for u in range(6)]
    assert len(train) == len(ratings) - 6


def test_folds_partition_the_rows():
    parts = protocol_data.folds(103, 5)
    together = np.concatenate(parts)
    assert len(parts) == 5 and sorted(together) == list(range(103))


def test_catalog_recency_counts_later_items():
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b"],
            "item_id": ["x", "y", "x", "y"],
            "rating": [1.0, 2.0, 3.0, 4.0],
            "timestamp": [1, 2, 3, 1],
        }
    )
    data = baselines.InteractionMatrix(frame)
    catalog = our_models.catalog_of(data, frame)
    # User a saw y at 2 and x last at 3: x is the latest (0), y one before (1).
    assert list(catalog.seen_by(data.users["a"])) == [data.items["x"], data.items["y"]]
    assert list(catalog.seen_recency[:2]) == [0, 1]
    assert catalog.rating_mean == 2.5


def test_cooccurrence_scores_follow_the_last_item():
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c"],
            "item_id": ["x", "y", "x", "z", "x"],
            "rating": 1.0,
            "timestamp": [1, 2, 1, 2, 5],
        }
    )
    data = baselines.InteractionMatrix(frame)
    scores = peers.cooccurrence_scores(frame, data)
    c = data.users["c"]
    x, y, z = (data.items[i] for i in "xyz")
    # c's last item is x, which co-occurs once with y and once with z, never with itself.
    assert scores[c, y] == 1.0 and scores[c, z] == 1.0 and scores[c, x] == 0.0


@pytest.mark.slow
def test_the_project_ease_scores_match_the_numpy_peer():
    ratings = _ratings()
    train, _ = protocol_data.temporal_split(ratings)
    data = baselines.InteractionMatrix(train)
    ours = our_models.ours_ease(data, train, l2=5.0)
    peer = baselines.ease_scores(data, l2=5.0)
    for u in range(len(data.users)):
        np.testing.assert_allclose(ours[u], peer(u), rtol=1e-4, atol=1e-5)


def test_a_partial_run_rewrites_only_its_protocols_blocks(tmp_path):
    from recsearch.apps.bench import docs

    page = tmp_path / "benchmarks.md"
    page.write_text(
        "<!-- bench:quality-ratings -->\nold ratings\n<!-- /bench:quality-ratings -->\n"
        "<!-- bench:quality-sequential -->\nold next item\n<!-- /bench:quality-sequential -->\n"
    )
    result = {
        "date": "2026-11-26",
        "machine": "test box",
        "command": "recsearch bench quality --protocols sequential",
        "protocols": {
            "sequential": {
                "seconds": 3,
                "models": {
                    "popularity (peer)": {
                        "hit_rate": 0.5,
                        "ndcg": 0.25,
                        "train_s": 0.0,
                        "examples_per_s": 10,
                        "peak_mib": 0.0,
                    }
                },
            }
        },
    }
    for block, text in quality.protocol_blocks(result).items():
        docs.replace_block(str(page), block, text)
    content = page.read_text()
    assert "old ratings" in content and "old next item" not in content
    assert "| popularity (peer) | 0.5000 | 0.2500 | 0.0 | 10 | 0.0 |" in content
    assert "Measured 2026-11-26 on test box" in content
