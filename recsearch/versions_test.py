"""Atomic publishing, retention and rollback of model versions."""

import os

import pytest

from recsearch import bundle, versions
from recsearch.errors import RecsearchError


def _model(tmp_path, name="model"):
    directory = tmp_path / name
    (directory / "variables").mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(b"graph")
    (directory / "variables" / "variables.index").write_bytes(b"index")
    return str(directory)


def test_publish_renames_into_place_and_keeps_the_last_n(tmp_path, monkeypatch):
    base = str(tmp_path / "serving")
    clock = iter([100, 100, 100, 100])
    monkeypatch.setattr(versions.time, "time", lambda: next(clock))
    model = _model(tmp_path)
    published = [versions.publish(model, base, keep=2)[0] for _ in range(3)]
    # Same second: each version is one more than the newest.
    assert published == [100, 101, 102]
    assert bundle.versions(base) == [101, 102]
    assert not [n for n in os.listdir(base) if n.startswith(".incoming")]
    assert (tmp_path / "serving" / "102" / "variables" / "variables.index").read_bytes() == b"index"


def test_publish_refuses_a_directory_without_a_saved_model(tmp_path):
    with pytest.raises(RecsearchError, match="no saved_model.pb to publish"):
        versions.publish(str(tmp_path), str(tmp_path / "serving"))
    with pytest.raises(RecsearchError, match="keep must be at least 1, got 0"):
        versions.publish(_model(tmp_path), str(tmp_path / "serving"), keep=0)


def test_rollback_moves_newer_versions_aside(tmp_path):
    base = tmp_path / "serving"
    for v in (1, 2, 3):
        (base / str(v)).mkdir(parents=True)
        (base / str(v) / "saved_model.pb").write_bytes(b"g")
    assert versions.rollback(str(base)) == 2
    assert bundle.versions(str(base)) == [1, 2]
    assert versions.rollback(str(base), to=1) == 1
    assert sorted(os.listdir(base / versions.ROLLED_BACK)) == ["2", "3"]
    with pytest.raises(RecsearchError, match="no older version"):
        versions.rollback(str(base))
    with pytest.raises(
        RecsearchError, match=r"no version 7 \(available: \[1\]; rolled back: \[2, 3\]\)"
    ):
        versions.rollback(str(base), to=7)


def test_a_rollback_is_undone_by_rolling_to_the_rolled_back_version(tmp_path):
    base = tmp_path / "serving"
    for v in (1, 2, 3):
        (base / str(v)).mkdir(parents=True)
        (base / str(v) / "saved_model.pb").write_bytes(f"g{v}".encode())
    assert versions.rollback(str(base), to=1) == 1
    assert versions.rollback(str(base), to=3) == 3  # undone: 3 is back, 2 stays aside
    assert bundle.versions(str(base)) == [1, 3]
    assert (base / "3" / "saved_model.pb").read_bytes() == b"g3"
    assert os.listdir(base / versions.ROLLED_BACK) == ["2"]
    # Rolled back again, 3 replaces its earlier copy aside.
    assert versions.rollback(str(base)) == 1
    assert sorted(os.listdir(base / versions.ROLLED_BACK)) == ["2", "3"]
