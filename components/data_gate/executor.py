"""Executor of DataGate: read every split's anomalies; raise with a report, or pass the schema."""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

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


def _describe(info: anomalies_pb2.AnomalyInfo) -> str:
    details = "; ".join(r.description for r in info.reason if r.description)
    return f"{info.short_description}. {details or info.description}".strip()


class Executor(base_executor.BaseExecutor):
    """Raises AnomaliesError listing every anomaly, else copies the schema through."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
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
        target_dir = artifact_utils.get_single_uri(output_dict["checked_schema"])
        tf.io.gfile.makedirs(target_dir)
        tf.io.gfile.copy(source, os.path.join(target_dir, SCHEMA_FILE), overwrite=True)
