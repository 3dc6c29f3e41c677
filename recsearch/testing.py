"""Helpers for tests: raw and transformed examples of a config's data, without a pipeline.

They run the same code the components run (the ExampleGen executor's loading
and encoding, the real `preprocessing_fn` under tf.Transform on Beam), so tests
of the Trainer, the models and the serving bundle use real artifacts.
"""

from __future__ import annotations

import functools
import os
import tempfile

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
import yaml
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx.components.util import tfxio_utils
from tfx.types import standard_artifacts
from tfx_bsl.public import tfxio

from recsearch import config as config_lib
from recsearch.components.recsys_example_gen import executor
from recsearch.data import splits
from recsearch.data.examples import read_split
from recsearch.modules import preprocessing
from recsearch.modules.features import FeatureSpec
from recsearch.pipeline.pipeline import trainer_config

_TYPES = {"bytes": schema_pb2.BYTES, "float": schema_pb2.FLOAT, "int": schema_pb2.INT}


def write_config(directory: str, overrides: dict) -> str:
    """Rewrites `directory`/config.yaml with top-level sections updated; returns its path."""
    path = os.path.join(directory, "config.yaml")
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(raw, f, sort_keys=False)
    return path


def raw_schema(
    spec: FeatureSpec, sparse: tuple[str, ...] = ("rating", "weight")
) -> schema_pb2.Schema:
    """The schema the DataGate hands Transform for these examples: one value per feature.

    Features in `sparse` may be missing (as views without a rating are, and
    catalog rows without a rating or a weight) and
    get no fixed shape.
    """
    schema = schema_pb2.Schema()
    for name, kind in spec.raw_types().items():
        feature = schema.feature.add(name=name, type=_TYPES[kind])
        if name in sparse:
            feature.value_count.min = feature.value_count.max = 1
        else:
            feature.presence.min_fraction = 1.0
            feature.shape.dim.add(size=1)
    return schema


def write_raw_examples(config: config_lib.PipelineConfig, out_dir: str) -> dict[str, int]:
    """Writes the config's data with RecsysExampleGen's executor: `Split-<name>/...gz`.

    Returns:
      The number of examples of each split.
    """
    from tfx.types import standard_component_specs

    from recsearch.components.recsys_example_gen import component

    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    executor.Executor().Do(
        {},
        {standard_component_specs.EXAMPLES_KEY: [examples]},
        component.executor_properties(config),
    )
    return {name: len(read_split(out_dir, name)) for name in component.output_splits(config)}


def transform_sample(config: config_lib.PipelineConfig, root: str) -> tuple[str, str, str]:
    """Raw examples, a transform graph and transformed examples under `root`.

    Returns:
      (raw examples dir, transform graph dir, transformed examples dir).
    """
    raw_dir = os.path.join(root, "raw")
    graph_dir = os.path.join(root, "transform_graph")
    out_dir = os.path.join(root, "transformed")
    write_raw_examples(config, raw_dir)
    spec = FeatureSpec.from_config(config)
    schema = raw_schema(spec)
    fn = functools.partial(
        preprocessing.preprocessing_fn, custom_config={"features": spec.to_json()}
    )

    def source(split: str) -> tfxio.TFExampleRecord:
        return tfxio.TFExampleRecord(
            file_pattern=os.path.join(raw_dir, f"Split-{split}", "*"), schema=schema
        )

    train_io = source(splits.TRAIN)
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        train = pipeline | "ReadTrain" >> train_io.BeamSource()
        transform_fn = (train, train_io.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(fn)
        _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
        present = [
            s
            for s in (splits.TRAIN, splits.EVAL, splits.CATALOG)
            if os.path.isdir(os.path.join(raw_dir, f"Split-{s}"))
        ]
        for split in present:
            split_io = source(split)
            data = pipeline | f"Read[{split}]" >> split_io.BeamSource()
            transformed, metadata = (
                (data, split_io.TensorAdapterConfig()),
                transform_fn,
            ) | f"Transform[{split}]" >> tft_beam.TransformDataset()
            coder = tft.coders.ExampleProtoCoder(metadata.schema)
            _ = (
                transformed
                | f"Encode[{split}]" >> beam.Map(coder.encode)
                | f"Write[{split}]"
                >> beam.io.WriteToTFRecord(
                    os.path.join(out_dir, f"Split-{split}", "data"),
                    file_name_suffix=".gz",
                    compression_type=beam.io.filesystem.CompressionTypes.GZIP,
                )
            )
    # TFX's Transform also records the raw schema, which serving reads.
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(schema),
        os.path.join(graph_dir, tft.TFTransformOutput.RAW_METADATA_DIR),
    )
    return raw_dir, graph_dir, out_dir


def data_accessor(examples_dir: str) -> DataAccessor:
    """The DataAccessor the Trainer gets for an Examples directory."""
    examples = standard_artifacts.Examples()
    examples.uri = examples_dir
    examples.split_names = '["train", "eval"]'
    return DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=tfxio_utils.get_record_batch_factory_from_artifact([examples], []),
        data_view_decode_fn=None,
    )


def fn_args(
    config: config_lib.PipelineConfig,
    transformed_dir: str,
    transform_graph: str,
    serving_dir: str,
    run_dir: str,
) -> FnArgs:
    """FnArgs as the Trainer builds them, for calling `run_fn` directly."""
    return FnArgs(
        train_files=[os.path.join(transformed_dir, "Split-train", "*")],
        eval_files=[os.path.join(transformed_dir, "Split-eval", "*")],
        transform_graph_path=transform_graph,
        transform_output=transform_graph,
        serving_model_dir=serving_dir,
        model_run_dir=run_dir,
        data_accessor=data_accessor(transformed_dir),
        custom_config=trainer_config(config),
    )


def tiny_catalog(
    history: list[list[int]],
    recency: list[list[int]] | None = None,
    num_items: int = 0,
    ratings: list[list[float]] | None = None,
):
    """A Catalog of users 0..U-1 (no OOV rows): their distinct items, recency ranks, ratings."""
    import numpy as np

    from recsearch.modules.training_data import Catalog

    num_items = num_items or 1 + max(i for h in history for i in h)
    recency = recency or [list(range(len(h))) for h in history]
    splits_ = np.cumsum([0] + [len(h) for h in history]).astype(np.int64)
    flat = np.array([i for h in history for i in h], dtype=np.int64)
    return Catalog(
        num_users=len(history),
        num_items=num_items,
        user_vocab_size=len(history),
        item_vocab_size=num_items,
        item_ids=np.array([f"i{i}" for i in range(num_items)], dtype=object),
        item_index=np.arange(num_items),
        item_counts=np.bincount(flat, minlength=num_items),
        seen_row_splits=splits_,
        seen_items=flat,
        user_features={},
        item_features={},
        seen_recency=np.array([r for rs in recency for r in rs], dtype=np.int64),
        seen_ratings=None
        if ratings is None
        else np.array([r for rs in ratings for r in rs], dtype=np.float32),
    )


def raw_example(config: config_lib.PipelineConfig, user: str, item: str | bytes) -> bytes:
    """A serialized raw tf.Example for serving_default: the pair, every other column empty."""
    example = tf.train.Example()
    feature = example.features.feature
    feature["user_id"].bytes_list.value.append(user.encode())
    feature["item_id"].bytes_list.value.append(item if isinstance(item, bytes) else item.encode())
    skip = {"user_id", "item_id", "timestamp", "rating"}
    for name, kind in FeatureSpec.from_config(config).raw_types().items():
        if name in skip or kind == "int":
            continue
        if kind == "bytes":
            feature[name].bytes_list.value.append(b"")
        else:
            feature[name].float_list.value.append(0.0)
    feature["timestamp"].int64_list.value.append(0)
    return example.SerializeToString()
