"""RecsysExampleGen's executor, run with Executor().Do on the tiny shop."""

import json
import os

import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs

from recsearch.components.recsys_example_gen import component, executor
from recsearch.data import tables


def _exec_properties(config):
    gen = component.RecsysExampleGen(config)
    props = dict(gen.exec_properties)
    for key in ("input_config", "output_config", "custom_config", "range_config"):
        value = props.get(key)
        if value is not None and not isinstance(value, str):
            from tfx.utils import proto_utils

            props[key] = proto_utils.proto_to_json(value)
    return props


def _read(uri, split):
    files = tf.io.gfile.glob(os.path.join(uri, f"Split-{split}", "*"))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()) for r in dataset]


def test_do_writes_joined_train_eval_and_catalog(sample_config, tmp_path):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path)
    executor.Executor().Do(
        {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, _exec_properties(sample_config)
    )
    names = ["train", "eval", "heldout", "catalog"]
    assert artifact_utils.decode_split_names(examples.split_names) == names
    expected = executor.build_splits(sample_config, sample_config.resolve("interactions.csv"))
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
    features = train[0].features.feature
    assert {"user_id", "item_id", "user__age", "item__category", "item__title"} <= set(features)
    users = {e.features.feature["user_id"].bytes_list.value[0] for e in train}
    assert len(users) == expected["train"]["user_id"].nunique()
    # Views have no rating: the feature is present without a value, as CsvExampleGen writes it.
    ratings = [len(e.features.feature["rating"].float_list.value) for e in train]
    assert 0 in ratings and 1 in ratings


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
    )
    assert _exec_properties(retuned)["custom_config"] == props["custom_config"]
    no_refit = dataclasses.replace(
        sample_config, release=dataclasses.replace(sample_config.release, refit=False)
    )
    assert _exec_properties(no_refit)["custom_config"] != props["custom_config"]


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
