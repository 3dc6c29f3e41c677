"""The shape generator: each shape has what its name says, the same rows from the same seed."""

import os

import pytest

from recsearch.config import load_config
from recsearch.data import shapes

SMALL = shapes.ShapeSpec(items=2_000, interactions=6_000)


def _per_user(frame):
    return frame.groupby("user_id").size()


def test_dense_and_sparse_users():
    dense = shapes.generate(SMALL)["interactions"]
    sparse = shapes.generate(shapes.ShapeSpec(items=2_000, interactions=6_000, sparse=True))
    sparse = sparse["interactions"]
    assert (_per_user(dense) <= 5).mean() < 0.05
    assert 0.7 <= (_per_user(sparse) <= 5).mean() <= 0.9  # most users have 1-5
    for frame in (dense, sparse):
        assert 5_000 <= len(frame) <= 6_500
        assert not frame.duplicated(["user_id", "item_id"]).any()


@pytest.mark.parametrize(
    "changes, columns, has_items",
    [
        ({}, {"user_id", "item_id", "timestamp"}, True),
        ({"rated": True}, {"user_id", "item_id", "timestamp", "rating"}, True),
        ({"timestamps": False}, {"user_id", "item_id"}, True),
        ({"metadata": False}, {"user_id", "item_id", "timestamp"}, False),
    ],
)
def test_each_shape_has_the_columns_its_name_says(changes, columns, has_items):
    spec = shapes.ShapeSpec(items=500, interactions=2_000, **changes)
    data = shapes.generate(spec)
    assert set(data["interactions"].columns) == columns
    assert (data["items"] is not None) == has_items
    if spec.rated:
        assert set(data["interactions"]["rating"]) <= {1, 2, 3, 4, 5}
    if has_items:
        assert len(data["items"]) == 500
        assert set(data["interactions"]["item_id"]) <= set(data["items"]["item_id"])


def test_the_same_seed_gives_the_same_rows_and_the_config_loads(tmp_path):
    first = shapes.generate(SMALL)["interactions"]
    again = shapes.generate(SMALL)["interactions"]
    assert first.equals(again)
    spec = shapes.ShapeSpec(items=300, interactions=1_500, rated=True)
    config = load_config(shapes.write(str(tmp_path), spec))
    assert config.task == "rating" and config.name == spec.name
    assert config.items is not None and config.items.categorical == ("genre", "author")
    assert os.path.isfile(tmp_path / "items.csv")


def test_the_matrix_varies_one_thing_at_a_time_from_the_base():
    base, *others = shapes.matrix()
    assert {s.items for s in others} >= {1_000, 50_000}
    for spec in others:
        changed = [f for f in vars(base) if getattr(spec, f) != getattr(base, f)]
        assert len(changed) == 1 or changed == ["rated", "sparse"], changed
