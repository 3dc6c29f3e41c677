"""Executor of RecsysExampleGen: the Beam data path (beam_data) and its problems."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
from google.protobuf import wrappers_pb2
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils as example_gen_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from recsearch import config as config_lib
from recsearch.components.recsys_example_gen import beam_data
from recsearch.data import sources, spans
from recsearch.errors import DataError, Problems

# The packed config's base_dir when its tables are read under the run's input base.
UNDER_INPUT_BASE = "<input_base>"

# Where the problems found by the workers are gathered, inside the output artifact.
PROBLEMS_FILE = "data_problems.json"


def unpack_config(exec_properties: dict[str, Any]) -> config_lib.PipelineConfig:
    """The pipeline config packed by `component.pack_config`."""
    custom = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], custom)
    value = wrappers_pb2.StringValue()
    custom.custom_config.Unpack(value)
    return config_lib.from_json(value.value)


def interaction_files(config: config_lib.PipelineConfig, pattern: str | list[str]) -> list[str]:
    """The log's files (a pattern, or the patterns of a span window), each at least once.

    Raises:
      DataError: A pattern matches no file.
    """
    files: list[str] = []
    for one in [pattern] if isinstance(pattern, str) else pattern:
        found = sources.list_files(one)
        if not found:
            raise DataError("no file matches this path", one)
        files += [f for f in found if f not in files]
    return files


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
    """Reads interactions (and side tables), joins, splits per user, writes tf.Examples.

    The whole data path is Beam (`beam_data.ReadSplits`). Problems found by
    any worker are written beside the splits and raised together after the
    pipeline, as one `Problems` error naming every file, column and row.
    """

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        outputs = output_dict[standard_component_specs.EXAMPLES_KEY]
        examples = artifact_utils.get_single_instance(outputs)
        self._problems_path = os.path.join(examples.uri, PROBLEMS_FILE)
        self._examples = outputs
        super().Do(input_dict, output_dict, exec_properties)
        if not tf.io.gfile.exists(self._problems_path):
            return
        with tf.io.gfile.GFile(self._problems_path) as f:
            found = beam_data.problems_from_records(tuple(r) for r in json.load(f))
        raise found[0] if len(found) == 1 else Problems(found)

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
        pattern: str | list[str] = config_lib.join_path(input_base, input_config.splits[0].pattern)
        span = exec_properties.get(example_gen_utils.SPAN_PROPERTY_NAME)
        template = config.resolve(config.interactions.path)
        if span is not None and spans.has_spans(template) and config.interactions.span_window > 1:
            # The driver resolved one span; a window adds the ones before it.
            _, pattern = spans.select(template, int(span), config.interactions.span_window)
        files = interaction_files(config, pattern)
        data_bytes = sum(tf.io.gfile.stat(f).length for f in files)
        names = example_gen_utils.generate_output_split_names(input_config, output_config)
        dirs = {name: artifact_utils.get_split_uri(self._examples, name) for name in names}
        parts = pipeline | "ReadSplits" >> beam_data.ReadSplits(config, files, data_bytes, dirs)
        _ = (
            parts[beam_data.PROBLEMS]
            | "GatherProblems" >> beam.combiners.ToList()
            | "WriteProblems" >> beam.Map(_write_problems, path=self._problems_path)
        )
        for name in names:
            _ = (
                parts[name]
                | f"Rows[{name}]" >> beam.CombineGlobally(sum)
                | f"Log[{name}]" >> beam.Map(_log_rows, name)
            )
        # The splits are written already, in shards named by user shard (beam_data);
        # TFX's writer adds an empty file to each.
        return {name: pipeline | f"Written[{name}]" >> beam.Create([]) for name in names}


def _log_rows(rows: int, split: str) -> None:
    logging.info("RecsysExampleGen: split %s has %d rows", split, rows)


def _write_problems(records: list[tuple], path: str) -> None:
    if records:
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump([list(r) for r in records], f)
