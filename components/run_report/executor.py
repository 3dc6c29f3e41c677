"""Executor of RunReport: gather the artifacts, build the report, write three outputs."""

from __future__ import annotations

import logging
import os

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from recsearch import config as config_lib
from recsearch import storage
from recsearch.components.executor_types import Artifacts, Props
from recsearch.components.run_report.build import ReportInputs, build
from recsearch.components.served_model.executor import schema_state_path

REPORT_FILE = "report.html"


def report_path(value_uri: str) -> str:
    """The browsable copy of the report next to the artifact's value file."""
    return os.path.join(os.path.dirname(value_uri), REPORT_FILE)


def _uri(input_dict: dict[str, list[types.Artifact]], key: str) -> str | None:
    artifacts = input_dict.get(key) or []
    return artifacts[0].uri if artifacts else None


def inputs_from(input_dict: dict, exec_properties: dict) -> ReportInputs:
    model = _uri(input_dict, "model")
    pushed = (input_dict.get("pushed_model") or [None])[0]
    pushed_to = None
    if pushed is not None and pushed.get_int_custom_property("pushed"):
        pushed_to = pushed.get_string_custom_property("pushed_destination")
    return ReportInputs(
        config=config_lib.from_json(exec_properties["config"]),
        statistics=_uri(input_dict, "statistics"),
        schema=_uri(input_dict, "schema"),
        anomalies=_uri(input_dict, "anomalies"),
        previous_schema=_uri(input_dict, "previous_schema"),
        model_run=_uri(input_dict, "model_run"),
        model=path_utils.serving_model_path(model) if model else None,
        evaluation=_uri(input_dict, "evaluation"),
        blessing=_uri(input_dict, "blessing"),
        examples=_uri(input_dict, "examples"),
        pushed_to=pushed_to,
    )


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Artifacts, output_dict: Artifacts, exec_properties: Props) -> None:
        report = build(inputs_from(input_dict, exec_properties))
        html = artifact_utils.get_single_instance(output_dict["report"])
        summary = artifact_utils.get_single_instance(output_dict["summary"])
        metrics = artifact_utils.get_single_instance(output_dict["metrics"])
        for artifact, text in ((html, report.html), (summary, report.markdown)):
            with tf.io.gfile.GFile(artifact.uri, "w") as f:
                f.write(text)
        # The value file is what the KFP UI shows; beside it, a name a browser opens.
        with tf.io.gfile.GFile(report_path(html.uri), "w") as f:
            f.write(report.html)
        for name, value in report.metrics.items():
            metrics.set_float_custom_property(name, float(value))
        logging.info("RunReport: wrote %s", html.uri)
        keep_schema(_uri(input_dict, "schema"), exec_properties.get("state_dir"))


def keep_schema(schema_uri: str | None, state_dir: str | None) -> None:
    """Leaves this run's schema where the next run's ServedModel reads it."""
    files = tf.io.gfile.glob(os.path.join(schema_uri, "*.pbtxt")) if schema_uri else []
    if not files or not state_dir:
        return
    storage.prepare(state_dir)
    tf.io.gfile.makedirs(state_dir)
    tf.io.gfile.copy(files[0], schema_state_path(state_dir), True)
