"""Executor of AtomicPusher: check the blessing, publish atomically, record the version."""

from __future__ import annotations

import json
import logging
import os
import time

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from recsearch import bundle, versions
from recsearch.components.executor_types import Artifacts, Props
from recsearch.components.release_gate import executor as release_gate
from recsearch.data import examples
from recsearch.modules import refit

BLESSED = "blessed"


def is_blessed(blessing: types.Artifact) -> bool:
    """The `blessed` property TFX's Evaluator (and the release gate) set."""
    return bool(blessing.get_int_custom_property(BLESSED))


class Executor(base_executor.BaseExecutor):
    """Pushes nothing unless blessed; otherwise writes a new version and prunes old ones."""

    def Do(self, input_dict: Artifacts, output_dict: Artifacts, exec_properties: Props) -> None:
        pushed = artifact_utils.get_single_instance(output_dict["pushed_model"])
        blessing = artifact_utils.get_single_instance(input_dict["model_blessing"])
        if not is_blessed(blessing):
            logging.info("AtomicPusher: the model is not blessed; nothing is pushed")
            pushed.set_int_custom_property("pushed", 0)
            return
        model = artifact_utils.get_single_instance(input_dict["model"])
        served = already_served(exec_properties["base_directory"], model.uri)
        if served:
            # A rerun with only release settings changed judges the same model again.
            logging.info("AtomicPusher: already served as %s; not pushed again", served)
            _record(pushed, served, model.uri)
            pushed.set_int_custom_property("already_served", 1)
            return
        # The next run's ServedModel reads this record: it compares that run's
        # candidate with the judged model behind this version.
        release = {
            "judged_model": path_utils.serving_model_path(model.uri),
            "released_model": refit.release_model_path(model.uri),
            "blessing": blessing.uri,
            "checks": release_gate.read_report(blessing.uri),
            "pushed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        files = {}
        title_feature = exec_properties.get("title_feature")
        if title_feature and input_dict.get("examples"):
            uri = artifact_utils.get_single_uri(input_dict["examples"])
            titles = examples.item_titles(uri, title_feature)
            files[bundle.ITEM_TITLES] = json.dumps(titles, ensure_ascii=False).encode("utf-8")
        version, target = versions.publish(
            refit.release_model_path(model.uri),
            exec_properties["base_directory"],
            keep=int(exec_properties["keep_versions"]),
            release=release,
            files=files,
        )
        _record(pushed, target, model.uri)
        logging.info("AtomicPusher: pushed version %d to %s", version, target)


def already_served(base_directory: str, model_uri: str) -> str | None:
    """The newest version's directory when it was released from this very Model artifact."""
    served = versions.served_versions(base_directory)
    if not served:
        return None
    newest = os.path.join(base_directory, str(served[-1]))
    released = versions.read_release(newest).get("released_model")
    return newest if released == refit.release_model_path(model_uri) else None


def _record(pushed: types.Artifact, target: str, model_uri: str) -> None:
    pushed.set_int_custom_property("pushed", 1)
    pushed.set_string_custom_property("pushed_destination", target)
    pushed.set_string_custom_property("pushed_version", os.path.basename(target.rstrip("/")))
    pushed.set_string_custom_property("pushed_model", model_uri)
