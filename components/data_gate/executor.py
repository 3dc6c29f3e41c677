"""Executor of DataGate: read every split's anomalies; raise with a report, or pass the schema."""

from __future__ import annotations

import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from recsearch import features as keys
from recsearch.components.executor_types import Artifacts, Props
from recsearch.errors import AnomaliesError

SCHEMA_DIFF_FILE = "SchemaDiff.pb"
SCHEMA_FILE = "schema.pbtxt"


def read_anomalies(anomalies: types.Artifact) -> dict[str, anomalies_pb2.Anomalies]:
    """The Anomalies proto of each split of an ExampleAnomalies artifact."""
    result = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies], split), SCHEMA_DIFF_FILE)
        proto = anomalies_pb2.Anomalies()
        proto.ParseFromString(io_utils.read_bytes_file(path))
        result[split] = proto
    return result


def report(anomalies_by_split: dict[str, anomalies_pb2.Anomalies]) -> list[str]:
    """One readable line per anomaly: split, feature, short and long description."""
    lines = []
    for split, anomalies in sorted(anomalies_by_split.items()):
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"split '{split}', feature '{feature}': {_describe(info)}")
        if anomalies.HasField("dataset_anomaly_info"):
            lines.append(
                f"split '{split}', whole data set: {_describe(anomalies.dataset_anomaly_info)}"
            )
    return lines


# Interaction fields that the item catalog's rows leave empty.
CATALOG_EMPTY_FIELDS = (keys.RATING, keys.WEIGHT)


def relax_for_catalog(schema: schema_pb2.Schema) -> schema_pb2.Schema:
    """The schema with the fields catalog rows lack made optional.

    SchemaGen infers from the interactions, where a rating may be on every
    row: a fixed shape of one value. Catalog rows (items, not events) carry no
    rating, and Transform would fail to parse them ("Expected 1 elements but
    got 0"). Such a field is read as optional (at most one value) instead;
    the Transform output fills the gap with 0.
    """
    relaxed = schema_pb2.Schema()
    relaxed.CopyFrom(schema)
    for feature in relaxed.feature:
        if feature.name in CATALOG_EMPTY_FIELDS:
            feature.ClearField("shape")
            feature.presence.min_fraction = 0.0
            feature.presence.min_count = 0
            feature.value_count.min = 0
            feature.value_count.max = 1
    return relaxed


def _describe(info: anomalies_pb2.AnomalyInfo) -> str:
    details = "; ".join(r.description for r in info.reason if r.description)
    return f"{info.short_description}. {details or info.description}".strip()


class Executor(base_executor.BaseExecutor):
    """Raises AnomaliesError listing every anomaly, else passes the schema on, catalog-ready."""

    def Do(self, input_dict: Artifacts, output_dict: Artifacts, exec_properties: Props) -> None:
        anomalies = artifact_utils.get_single_instance(input_dict["anomalies"])
        lines = report(read_anomalies(anomalies))
        if lines:
            raise AnomaliesError(
                "the data does not match the schema; the run stops before training.\n  "
                + "\n  ".join(lines)
                + "\nFix the data, or update the curated schema if the change is intended."
            )
        schema_dir = artifact_utils.get_single_uri(input_dict["schema"])
        source = io_utils.get_only_uri_in_dir(schema_dir)
        schema = io_utils.parse_pbtxt_file(source, schema_pb2.Schema())
        target_dir = artifact_utils.get_single_uri(output_dict["checked_schema"])
        tf.io.gfile.makedirs(target_dir)
        io_utils.write_pbtxt_file(os.path.join(target_dir, SCHEMA_FILE), relax_for_catalog(schema))
