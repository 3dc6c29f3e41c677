"""RecsysExampleGen's executor, run with Executor().Do on the tiny shop."""

import dataclasses
import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs

from recsearch import config as config_lib
from recsearch.components.recsys_example_gen import component, executor
from recsearch.data import splits, tables
from recsearch.errors import DataError


def _exec_properties(config):
    return component.executor_properties(config)


def _read(uri, split):
    files = tf.io.gfile.glob(os.path.join(uri, f"Split-{split}", "*"))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()) for r in dataset]


def test_do_writes_joined_train_eval_and_catalog(sample_config, tmp_path):
    examples = _run(sample_config, tmp_path)
    names = ["train", "eval", "heldout", "catalog"]
    assert artifact_utils.decode_split_names(examples.split_names) == names
    # The in-memory reference: the whole log in one frame, split by `split_interactions`.
    frame, catalog = tables.load_all(sample_config)
    expected = splits.split_interactions(frame, sample_config.split, sample_config.task)
    expected["catalog"] = catalog
    train, held = _read(examples.uri, "train"), _read(examples.uri, "eval")
    assert len(train) == len(expected["train"]) and len(held) == len(expected["eval"])
    # For the refit: train and every held-out row, unfiltered, are the whole log.
    heldout = _read(examples.uri, "heldout")
    assert len(train) + len(heldout) == len(tables.load_interactions(sample_config))
    assert len(heldout) >= len(held)
    # The catalog holds every item of the item file, cold ones included, once each.
    catalog = _read(examples.uri, "catalog")
    item_ids = [e.features.feature["item_id"].bytes_list.value[0].decode() for e in catalog]
    assert len(item_ids) == len(set(item_ids)) == len(expected["catalog"])
    assert {"new-001", "new-002"} <= set(item_ids)
    # The same rows as the reference, split for split.
    for name, written in (("train", train), ("eval", held), ("heldout", heldout)):
        assert sorted(map(_key, written)) == sorted(
            zip(expected[name]["user_id"], expected[name]["item_id"], expected[name]["timestamp"])
        ), name
    features = train[0].features.feature
    assert {"user_id", "item_id", "user__age", "item__category", "item__title"} <= set(features)
    # Items' content is written once per item, in the catalog: interactions carry it empty,
    # their light item columns joined as before.
    category = dict(zip(expected["catalog"]["item_id"], expected["catalog"]["item__category"]))
    for example in train:
        feature = example.features.feature
        assert feature["item__title"].bytes_list.value == [b""]
        assert feature["item__image"].bytes_list.value == [b""]
        item = feature["item_id"].bytes_list.value[0].decode()
        assert feature["item__category"].bytes_list.value[0].decode() == category[item]
    titled = [e for e in catalog if e.features.feature["item__title"].bytes_list.value[0]]
    assert len(titled) == len(catalog)
    assert all(
        e.features.feature["item__image"].bytes_list.value[0][:4] == b"\x89PNG" for e in catalog
    )
    users = {e.features.feature["user_id"].bytes_list.value[0] for e in train}
    assert len(users) == expected["train"]["user_id"].nunique()
    # Views have no rating: the feature is present without a value, as CsvExampleGen writes it.
    ratings = [len(e.features.feature["rating"].float_list.value) for e in train]
    assert 0 in ratings and 1 in ratings


def _key(example):
    feature = example.features.feature
    return (
        feature["user_id"].bytes_list.value[0].decode(),
        feature["item_id"].bytes_list.value[0].decode(),
        feature["timestamp"].int64_list.value[0],
    )


def _run(config, uri, beam_args=None):
    from tfx.dsl.components.base import base_beam_executor

    examples = standard_artifacts.Examples()
    examples.uri = str(uri)
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=beam_args)
    executor.Executor(context).Do(
        {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, _exec_properties(config)
    )
    return examples


def test_multi_processing_direct_runner_writes_the_same_splits(sample_config, tmp_path):
    """Beam's multi_processing DirectRunner pickles every DoFn into worker processes."""
    args = config_lib.Beam(direct_running_mode="multi_processing").pipeline_args(cores=2)
    assert "--direct_running_mode=multi_processing" in args
    workers = _run(sample_config, tmp_path / "workers", beam_args=args)
    alone = _run(sample_config, tmp_path / "alone", beam_args=["--direct_running_mode=in_memory"])
    for name in ("train", "eval", "heldout", "catalog"):
        a, b = _read(workers.uri, name), _read(alone.uri, name)
        assert len(a) == len(b) > 0, name
        assert sorted(map(_canonical, a)) == sorted(map(_canonical, b)), name


def test_eval_users_are_a_fixed_sample_of_the_lowest_keys(sample_config, tmp_path):
    """evaluation.max_users: the eval split holds that many users, all their rows; nothing else
    changes. Under the multi_processing runner, so the sampling steps are pickled."""
    config = dataclasses.replace(
        sample_config, evaluation=dataclasses.replace(sample_config.evaluation, max_users=20)
    )
    args = config_lib.Beam(direct_running_mode="multi_processing").pipeline_args(cores=2)
    examples = _run(config, tmp_path, beam_args=args)
    frame, _ = tables.load_all(config)
    expected = splits.split_interactions(frame, config.split, config.task)
    eval_users = expected["eval"]["user_id"].drop_duplicates()
    assert len(eval_users) > 20
    order = np.argsort(splits.user_sample_keys(eval_users))
    sampled = set(eval_users.to_numpy()[order[:20]])
    rows = expected["eval"][expected["eval"]["user_id"].isin(sampled)]
    written = _read(examples.uri, "eval")
    assert sorted(map(_key, written)) == sorted(
        zip(rows["user_id"], rows["item_id"], rows["timestamp"])
    )
    # The same sample `recsearch validate` counts (splits.sample_users, in pandas).
    pd.testing.assert_frame_equal(splits.sample_users(expected["eval"], 20), rows)
    # Training data and the refit's held-out rows are the whole log's.
    for name in ("train", "heldout"):
        assert len(_read(examples.uri, name)) == len(expected[name]), name
    # The keys are fixed: the same ids give the same keys in any order or process.
    keys_ = splits.user_sample_keys(eval_users)
    np.testing.assert_array_equal(splits.user_sample_keys(eval_users[::-1]), keys_[::-1])
    assert keys_.dtype == np.int64 and (keys_ >= 0).all()


def _canonical(example) -> tuple:
    """An example's features in name order (a proto map serializes in no fixed order)."""
    features = example.features.feature
    return tuple((name, features[name].SerializeToString()) for name in sorted(features))


def test_random_split_matches_the_reference_per_user(sample_config, tmp_path):
    """Without timestamps the split is random per user, the same rule in Beam and in memory."""
    config = dataclasses.replace(
        sample_config,
        interactions=dataclasses.replace(sample_config.interactions, timestamp=None),
        split=dataclasses.replace(sample_config.split, method="random", seed=3),
    )
    examples = _run(config, tmp_path)
    frame, _ = tables.load_all(config)
    expected = splits.split_interactions(frame, config.split, config.task)
    for name in ("train", "eval", "heldout"):
        written = _read(examples.uri, name)
        pairs = sorted(
            (
                f.features.feature["user_id"].bytes_list.value[0].decode(),
                f.features.feature["item_id"].bytes_list.value[0].decode(),
            )
            for f in written
        )
        assert pairs == sorted(zip(expected[name]["user_id"], expected[name]["item_id"])), name


def test_bad_rows_in_several_files_and_chunks_fail_together(sample_config, tmp_path, monkeypatch):
    """Workers report problems; the step fails once with each file and column, and nothing more."""
    from recsearch.data import sources
    from recsearch.errors import Problems

    monkeypatch.setattr(sources, "CHUNK_ROWS", 50)  # many chunks per file
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(sample_config.resolve("interactions.csv")) as f:
        lines = f.read().splitlines()
    header, rows = lines[0], lines[1:]
    columns = header.split(",")
    rating = columns.index("rating")

    def spoil(row, column, value):
        cells = row.split(",")
        cells[column] = value
        return ",".join(cells)

    part_a = [spoil(r, rating, "five") if i in (10, 120) else r for i, r in enumerate(rows[:300])]
    part_b = [spoil(r, 0, "") if i == 7 else r for i, r in enumerate(rows[300:])]
    (logs / "a.csv").write_text("\n".join([header, *part_a]) + "\n")
    (logs / "b.csv").write_text("\n".join([header, *part_b]) + "\n")
    config = dataclasses.replace(
        sample_config,
        interactions=dataclasses.replace(sample_config.interactions, path=str(logs / "*.csv")),
    )
    with pytest.raises(Problems) as raised:
        _run(config, tmp_path / "out")
    found = [str(e) for e in raised.value.errors]
    assert len(found) == 2, found
    assert "a.csv, column 'rating', row 11: expected a number, got 'five'" in found[0]
    assert "1 more rows like it" in found[0]
    assert "b.csv, column 'user_id', row 8: missing value" in found[1]


def test_rows_lost_between_reading_and_splitting_fail_the_run(sample_config, tmp_path, monkeypatch):
    """Train and heldout are the whole log: if a block of rows goes missing on the way (as
    Beam's local runner lost 20% of a 10M log, recsearch/beam_fixes.py), the step fails."""
    from recsearch.components.recsys_example_gen import beam_data
    from recsearch.data import sources

    monkeypatch.setattr(sources, "CHUNK_ROWS", 100)  # several blocks per user shard
    process = beam_data.SplitShard.process

    def drop_first_block(self, element, items, user_defaults):
        shard, grouped = element
        blocks = list(grouped["interactions"])
        lost = len(blocks[0]) if shard == 0 else 0
        grouped = {**grouped, "interactions": blocks[1:] if shard == 0 else blocks}
        drop_first_block.lost += lost
        yield from process(self, (shard, grouped), items, user_defaults)

    drop_first_block.lost = 0
    monkeypatch.setattr(beam_data.SplitShard, "process", drop_first_block)
    with pytest.raises(DataError) as raised:  # in_memory: the patch runs in this process
        _run(sample_config, tmp_path, beam_args=["--direct_running_mode=in_memory"])
    total = len(tables.load_interactions(sample_config))
    lost = drop_first_block.lost
    assert 0 < lost < total
    message = str(raised.value)
    assert f"{total} rows of the log were read" in message
    assert f"{total - lost} reached the train and heldout splits: {lost} were lost" in message
    assert raised.value.path == sample_config.resolve("interactions.csv")


def test_data_settings_travel_in_custom_config(sample_config):
    """Only what shapes the data: a model change leaves ExampleGen's parameters alone."""
    import dataclasses

    from recsearch.config import data_settings

    props = _exec_properties(sample_config)
    unpacked = executor.unpack_config(props)
    assert unpacked == data_settings(sample_config)
    assert unpacked.interactions == sample_config.interactions
    assert unpacked.items == sample_config.items and unpacked.split == sample_config.split
    assert json.loads(props["input_config"])["splits"][0]["pattern"] == "interactions.csv"
    retuned = dataclasses.replace(
        sample_config,
        model=dataclasses.replace(sample_config.model, epochs=99),
        release=dataclasses.replace(sample_config.release, keep_versions=2),
        features=dataclasses.replace(sample_config.features, hash_buckets=7),
    )
    assert _exec_properties(retuned)["custom_config"] == props["custom_config"]
    no_refit = dataclasses.replace(
        sample_config, release=dataclasses.replace(sample_config.release, refit=False)
    )
    assert _exec_properties(no_refit)["custom_config"] != props["custom_config"]
    fewer_eval_users = dataclasses.replace(
        sample_config, evaluation=dataclasses.replace(sample_config.evaluation, max_users=5)
    )
    assert _exec_properties(fewer_eval_users)["custom_config"] != props["custom_config"]
    metric = dataclasses.replace(
        sample_config, evaluation=dataclasses.replace(sample_config.evaluation, metric="ndcg")
    )
    assert _exec_properties(metric)["custom_config"] == props["custom_config"]


@pytest.mark.parametrize(
    "path, base, pattern",
    [
        ("/data/shop/interactions.csv", "/data/shop", "interactions.csv"),
        ("/data/shop/span-{SPAN}/*.csv", "/data/shop", "span-{SPAN}/*.csv"),
        ("gs://bucket/logs/*/part.csv", "gs://bucket/logs", "*/part.csv"),
    ],
)
def test_split_input_path(path, base, pattern):
    assert component.split_input_path(path) == (base, pattern)
