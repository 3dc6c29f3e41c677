"""DataGate: passes a clean schema on; stops with a readable report on anomalies."""

import json
import os

import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import standard_artifacts

from recsearch.components.data_gate import executor
from recsearch.errors import AnomaliesError


def _artifacts(tmp_path, anomalies_by_split):
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp_path / "anomalies")
    anomalies.split_names = json.dumps(list(anomalies_by_split))
    for split, proto in anomalies_by_split.items():
        directory = os.path.join(anomalies.uri, f"Split-{split}")
        os.makedirs(directory)
        with open(os.path.join(directory, executor.SCHEMA_DIFF_FILE), "wb") as f:
            f.write(proto.SerializeToString())
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    os.makedirs(schema.uri)
    (tmp_path / "schema" / "schema.pbtxt").write_text('feature { name: "user_id" type: BYTES }\n')
    checked = standard_artifacts.Schema()
    checked.uri = str(tmp_path / "checked")
    return {"anomalies": [anomalies], "schema": [schema]}, {"checked_schema": [checked]}


def test_clean_data_passes_the_schema_on(tmp_path):
    inputs, outputs = _artifacts(tmp_path, {"train": anomalies_pb2.Anomalies()})
    executor.Executor().Do(inputs, outputs, {})
    copied = tf.io.gfile.GFile(str(tmp_path / "checked" / "schema.pbtxt")).read()
    assert 'name: "user_id"' in copied


def test_anomalies_stop_the_run_with_a_report(tmp_path):
    found = anomalies_pb2.Anomalies()
    info = found.anomaly_info["user__country"]
    info.short_description = "Unexpected string values"
    info.reason.add(description="Examples contain values missing from the schema: XX (~40%).")
    inputs, outputs = _artifacts(tmp_path, {"eval": found})
    with pytest.raises(AnomaliesError) as error:
        executor.Executor().Do(inputs, outputs, {})
    message = str(error.value)
    assert "split 'eval', feature 'user__country': Unexpected string values." in message
    assert "XX (~40%)" in message
    assert not (tmp_path / "checked").exists()
