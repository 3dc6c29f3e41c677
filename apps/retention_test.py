"""Sizes on disk as `du` counts them, hard links once; the bytes a run wrote itself."""

import os

from recsearch.apps import retention


def test_a_hard_linked_file_counts_once_and_not_as_written(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights").write_bytes(b"w" * 1000)
    (tmp_path / "model" / "graph").write_bytes(b"g" * 10)
    (tmp_path / "baseline").mkdir()
    os.link(tmp_path / "model" / "weights", tmp_path / "baseline" / "weights")
    assert retention.tree_bytes(str(tmp_path)) == 1010
    assert retention.tree_bytes(str(tmp_path / "baseline")) == 1000
    # The baseline is a link to a file written before: this run wrote only the graph.
    assert retention.tree_bytes(str(tmp_path), unlinked_only=True) == 10
    assert retention.tree_bytes(str(tmp_path / "missing")) == 0


def test_sizes_read_as_people_write_them():
    assert retention.human_bytes(0) == "0 B"
    assert retention.human_bytes(999) == "999 B"
    assert retention.human_bytes(12_345_678) == "12.3 MB"
    assert retention.human_bytes(4.1e9) == "4.1 GB"


def test_a_value_artifact_owns_its_execution_directory():
    value = "/out/pipelines/shop/RunReport/report/12/value"
    assert retention.owned_directory(value) == "/out/pipelines/shop/RunReport/report/12"
    model = "/out/pipelines/shop/Trainer/model/8"
    assert retention.owned_directory(model) == model
    assert retention.owned_directory("/somewhere/value") == "/somewhere/value"
