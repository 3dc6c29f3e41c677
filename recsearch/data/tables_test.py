"""Loading and joining the configured tables."""

import pytest

from recsearch.config import config_from_dict
from recsearch.data import tables
from recsearch.errors import DataError


def _config(tmp_path, **extra):
    (tmp_path / "events.csv").write_text(
        "uid,iid,stars,ts\nu1,i1,4,10\nu1,i2,,11\nu2,i1,5,12\nu2,i9,3,13\n"
    )
    (tmp_path / "items.csv").write_text("iid,genre,price\ni1,drama,3.0\ni2,comedy,\n")
    raw = {
        "name": "t",
        "interactions": {
            "path": "events.csv",
            "user": "uid",
            "item": "iid",
            "rating": "stars",
            "timestamp": "ts",
        },
        "items": {"path": "items.csv", "id": "iid", "categorical": ["genre"], "numeric": ["price"]},
        **extra,
    }
    return config_from_dict(raw, base_dir=str(tmp_path))


def test_join_fills_unknown_items_and_missing_numbers(tmp_path):
    frame = tables.load_joined(_config(tmp_path))
    assert list(frame["item__genre"]) == ["drama", "comedy", "drama", ""]
    # i2's empty price and the unknown i9 both get the mean of the known prices (3.0).
    assert list(frame["item__price"]) == [3.0, 3.0, 3.0, 3.0]
    assert frame["rating"].isna().sum() == 1


def test_rating_task_leaves_out_unrated_rows(tmp_path):
    frame = tables.load_interactions(_config(tmp_path, task="rating"))
    assert list(frame["rating"]) == [4.0, 5.0, 3.0]


def test_duplicate_side_ids_name_the_row(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "items.csv").write_text("iid,genre,price\ni1,drama,3\ni2,comedy,1\ni1,x,2\n")
    with pytest.raises(DataError, match="items.csv, column 'iid', row 3: duplicate id 'i1'"):
        tables.load_entities(config, "item")


def test_bad_rating_names_file_column_and_row(tmp_path):
    config = _config(tmp_path)
    (tmp_path / "events.csv").write_text("uid,iid,stars,ts\nu1,i1,4,10\nu1,i2,lots,11\n")
    with pytest.raises(DataError, match="events.csv, column 'stars', row 2: expected a number"):
        tables.load_interactions(config)


@pytest.mark.parametrize(
    "cell, message",
    [
        ("https://cdn.example/i1.png", "https://cdn.example/i1.png: images are read from files"),
        ("missing.png", "image file not found: missing.png"),
        ("nosuchfs://x/i1.png", "cannot read nosuchfs://x/i1.png"),
    ],
)
def test_image_urls_and_unreadable_files_are_named_not_tracebacks(tmp_path, cell, message):
    (tmp_path / "events.csv").write_text("uid,iid\nu1,i1\nu1,i2\n")
    (tmp_path / "items.csv").write_text(f"iid,pic\ni1,{cell}\n")
    config = config_from_dict(
        {
            "name": "t",
            "interactions": {"path": "events.csv", "user": "uid", "item": "iid"},
            "items": {"path": "items.csv", "id": "iid", "image": "pic"},
        },
        base_dir=str(tmp_path),
    )
    with pytest.raises(DataError, match=f"column 'pic', row 1: {message}"):
        tables.load_entities(config, "item")


def _events(tmp_path, text: str, **columns):
    """A config over events.csv (user uid, item iid, and `columns`) holding `text`."""
    (tmp_path / "events.csv").write_text(text)
    interactions = {"path": "events.csv", "user": "uid", "item": "iid", **columns}
    return config_from_dict({"name": "t", "interactions": interactions}, base_dir=str(tmp_path))


def _refused(tmp_path, config, text: str, message: str) -> None:
    """events.csv holding `text` is refused with an error matching `message`."""
    (tmp_path / "events.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        tables.load_interactions(config)


def test_weight_column_counts_empty_cells_as_one_and_names_a_negative_weight(tmp_path):
    config = _events(tmp_path, "uid,iid,qty\nu1,i1,2\nu1,i2,\nu2,i1,0.5\n", weight="qty")
    assert list(tables.load_interactions(config)["weight"]) == [2.0, 1.0, 0.5]
    message = (
        r"events.csv, column 'qty', row 2: a weight must be a finite number of at least 0, "
        r"got -1.0 \(1 more rows like it\)"
    )
    _refused(tmp_path, config, "uid,iid,qty\nu1,i1,2\nu1,i2,-1\nu2,i1,inf\n", message)


def test_event_weights_multiply_the_weight_and_an_unlisted_event_is_named(tmp_path):
    from recsearch.errors import Problems

    weights = {"purchase": 1.0, "cart": 0.3, "view": 0.05}
    text = "uid,iid,ev,qty\nu1,i1,view,\nu1,i2,purchase,2\nu2,i1,cart,1\n"
    config = _events(tmp_path, text, event="ev", weight="qty", event_weights=weights)
    assert list(tables.load_interactions(config)["weight"]) == pytest.approx([0.05, 2.0, 0.3])
    message = (
        r"events.csv, column 'ev', row 2: event type 'refund' has no weight "
        r"\(weights are given for: cart, purchase, view\)"
    )
    _refused(tmp_path, config, "uid,iid,ev,qty\nu1,i1,view,\nu1,i2,refund,1\n", message)
    with pytest.raises(Problems) as caught:
        config_from_dict(
            {
                "name": "t",
                "interactions": {"path": "e.csv", "event_weights": {"purchase": -1.0}},
            }
        )
    text = str(caught.value)
    assert "'interactions.event_weights' needs interactions.event" in text
    assert "'interactions.event_weights.purchase' must be a number >= 0, got -1.0" in text


def test_unknown_ids_get_the_whole_tables_defaults_when_joined_by_parts():
    import pandas as pd

    users = pd.DataFrame({"user__age": [20.0, 40.0, 60.0]}, index=pd.Index(["a", "b", "c"]))
    log = pd.DataFrame({"user_id": ["a", "zz"], "item_id": ["i", "j"]})
    whole = tables.join_side_features(log, users, "user")
    assert list(whole["user__age"]) == [20.0, 40.0]  # unknown: the table's mean
    part = users.loc[["a"]]  # one shard's users
    joined = tables.join_side_features(log, part, "user", tables.side_defaults(users))
    assert list(joined["user__age"]) == [20.0, 40.0]  # the same as the whole table
