"""Executor of RecsysExampleGen: load and check the tables, join, split, encode."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
from google.protobuf import wrappers_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import example_coder

from recsearch import config as config_lib
from recsearch.data import spans, splits, tables
from recsearch.modules.features import FeatureSpec

# The packed config's base_dir when its tables are read under the run's input base.
UNDER_INPUT_BASE = "<input_base>"

_CHUNK_ROWS = 20_000


def unpack_config(exec_properties: dict[str, Any]) -> config_lib.PipelineConfig:
    """The pipeline config packed by `component.pack_config`."""
    custom = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], custom)
    value = wrappers_pb2.StringValue()
    custom.custom_config.Unpack(value)
    return config_lib.from_json(value.value)


def frame_to_record_batch(frame: pd.DataFrame, spec: FeatureSpec) -> pa.RecordBatch:
    """Columns of the feature spec as a RecordBatch of one-value lists.

    Empty numeric cells (NaN, such as a view without a rating) become null
    lists, which encode as features without a value, as TFX's CsvExampleGen
    writes empty cells.
    """
    arrays = []
    names = list(spec.raw_types())
    for name, kind in spec.raw_types().items():
        column = frame[name]
        if kind == "bytes":
            values = [v if isinstance(v, bytes) else str(v).encode() for v in column]
            missing = np.zeros(len(values), dtype=bool)
            typed = pa.array(values, type=pa.binary())
        else:
            dtype = np.float32 if kind == "float" else np.int64
            numbers = column.to_numpy(dtype=np.float64)
            missing = np.isnan(numbers)
            typed = pa.array(numbers[~missing].astype(dtype))
        offsets = np.concatenate([[0], np.cumsum(~missing)]).astype(np.int32)
        arrays.append(pa.ListArray.from_arrays(pa.array(offsets), typed, mask=pa.array(missing)))
    return pa.RecordBatch.from_arrays(arrays, names)


def encode(frame: pd.DataFrame, spec: FeatureSpec) -> list[bytes]:
    """Serialized tf.Examples of the rows of `frame`."""
    return example_coder.RecordBatchToExamples(frame_to_record_batch(frame, spec))


def build_splits(config: config_lib.PipelineConfig, pattern: str) -> dict[str, pd.DataFrame]:
    """Loads, joins and splits the data named by the config; adds the item catalog."""
    frame, catalog = tables.load_all(config, pattern)
    parts = splits.split_interactions(frame, config.split, config.task)
    if catalog is not None:
        parts[splits.CATALOG] = catalog
    for name, part in parts.items():
        if name == splits.CATALOG:
            logging.info("RecsysExampleGen: catalog has %d items", len(part))
            continue
        logging.info(
            "RecsysExampleGen: split %s has %d rows, %d users, %d items",
            name,
            len(part),
            part["user_id"].nunique(),
            part["item_id"].nunique(),
        )
    if parts[splits.EVAL].empty:
        raise ValueError(f"{pattern}: the eval split is empty; add data or raise eval_fraction")
    return parts


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads interactions (and side tables), joins, splits per user, writes tf.Examples."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError("RecsysExampleGen overrides GenerateExamplesByBeam")

    def GenerateExamplesByBeam(
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> dict[str, beam.pvalue.PCollection]:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
        )
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config
        )
        config = unpack_config(exec_properties)
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        if config.base_dir == UNDER_INPUT_BASE:
            # Packed for a data root (component.pack_config): every table is under it.
            config = dataclasses.replace(config, base_dir=input_base)
        spec = FeatureSpec.from_config(config)
        pattern = config_lib.join_path(input_base, input_config.splits[0].pattern)
        span = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME)
        template = config.resolve(config.interactions.path)
        if span is not None and spans.has_spans(template) and config.interactions.span_window > 1:
            # The driver resolved one span; a window adds the ones before it.
            _, pattern = spans.select(template, int(span), config.interactions.span_window)
        parts = build_splits(config, pattern)
        result = {}
        for name in example_gen_utils.generate_output_split_names(input_config, output_config):
            part = parts[name]
            chunks = [part.iloc[i : i + _CHUNK_ROWS] for i in range(0, len(part), _CHUNK_ROWS)]
            result[name] = (
                pipeline
                | f"Chunks[{name}]" >> beam.Create(chunks, reshuffle=False)
                | f"Encode[{name}]" >> beam.FlatMap(encode, spec=spec)
            )
        return result
