"""Executor of ServedModel: copy the served model and the last run's schema, if any."""

from __future__ import annotations

import logging
import os

import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from recsearch import bundle, storage, versions
from recsearch.components.executor_types import Artifacts, Props

SCHEMA_FILE = "schema.pbtxt"


def schema_state_path(state_dir: str) -> str:
    """Where RunReport leaves the schema of the last completed run."""
    return os.path.join(state_dir, SCHEMA_FILE)


def is_present(model_uri: str) -> bool:
    """Whether a baseline Model artifact holds a model (false on a first run)."""
    return tf.io.gfile.exists(
        os.path.join(path_utils.serving_model_path(model_uri), bundle.SAVED_MODEL)
    )


def judged_model(version_dir: str) -> tuple[str, str]:
    """The model to compare against for a served version, and why that one.

    With a refit, the served version was retrained on the whole log, held-out
    rows included; the model the gate judged (same plan, trained without
    them) is the fair baseline, when its artifact is still there. Otherwise
    the served version itself.
    """
    judged = versions.read_release(version_dir).get("judged_model")
    if judged and tf.io.gfile.exists(os.path.join(judged, bundle.SAVED_MODEL)):
        return judged, "the judged model of the served version"
    return version_dir, "the served version"


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Artifacts, output_dict: Artifacts, exec_properties: Props) -> None:
        del input_dict
        model = artifact_utils.get_single_instance(output_dict["model"])
        serving_dir = exec_properties["serving_dir"]
        storage.prepare(serving_dir, exec_properties["state_dir"], model.uri)
        served = versions.served_versions(serving_dir)
        tf.io.gfile.makedirs(model.uri)
        if exec_properties.get("served_key"):
            model.set_string_custom_property("served_key", exec_properties["served_key"])
        if served:
            version_dir = os.path.join(serving_dir, str(served[-1]))
            source, why = judged_model(version_dir)
            # Hard links on one disk: artifacts are never written after they are made.
            versions.link_tree(source, path_utils.serving_model_path(model.uri))
            model.set_int_custom_property("served_version", served[-1])
            model.set_string_custom_property("served_from", version_dir)
            logging.info("ServedModel: baseline is %s, version %d (%s)", why, served[-1], source)
        else:
            model.set_int_custom_property("served_version", 0)
            logging.info("ServedModel: nothing served under %s yet: no baseline", serving_dir)
        schema = artifact_utils.get_single_instance(output_dict["previous_schema"])
        tf.io.gfile.makedirs(schema.uri)
        previous = schema_state_path(exec_properties["state_dir"])
        if tf.io.gfile.exists(previous):
            tf.io.gfile.copy(previous, os.path.join(schema.uri, SCHEMA_FILE), True)
