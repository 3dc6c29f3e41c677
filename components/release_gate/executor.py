"""Executor of ReleaseGate: run the checks, write the report and the blessing."""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from recsearch import features as keys
from recsearch.components.executor_types import Artifacts, Props
from recsearch.components.release_gate import checks, latency
from recsearch.components.served_model.executor import is_present
from recsearch.data import examples
from recsearch.modules import refit

REPORT_FILE = "release_report.json"


# Eval users the catalog, data and index checks look at (a seeded sample above this).
MAX_USERS = 20_000


def run_checks(
    candidate_dir: str,
    baseline_dir: str | None,
    examples_uri: str,
    evaluation_uri: str,
    config: checks.GateConfig,
    release_dir: str | None = None,
) -> list[checks.Check]:
    """Every check of the gate, in the order they are reported.

    The metrics, catalog and data checks judge the candidate (trained on the
    train split, measured on eval); the serving and index checks probe the
    bundle that would be pushed (`release_dir`, the refit, by default the
    candidate itself). Above `MAX_USERS` eval users, the checks that call
    the bundle per user look at a seeded sample of them.
    """
    release_dir = release_dir or candidate_dir
    train = examples.read_split(examples_uri, "train")
    # The serving probe runs in its own process while the other checks run here.
    # Several known users, so the timing is not one user's cached path.
    known = list(dict.fromkeys(train[keys.USER_ID].iloc[:10_000]))
    probe = checks.start_probe(
        release_dir,
        known[:: max(1, len(known) // latency.USERS)][: latency.USERS],
        train[keys.ITEM_ID].iloc[0],
    )
    try:
        evaluation = examples.read_split(examples_uri, "eval")
        candidate = checks.BundleView.load(candidate_dir)
        baseline = checks.BundleView.load(baseline_dir) if baseline_dir else None
        users, evaluation = checks.sample_users(evaluation, MAX_USERS)
        metrics = checks.evaluator_check(evaluation_uri)
        judged = [
            metrics,
            checks.popularity_check(
                train, evaluation, candidate, metrics.figures["metrics"], config
            ),
            checks.comparison_check(candidate, baseline, evaluation, users, config),
            checks.catalog_check(candidate, baseline, users, config),
            checks.data_check(train, evaluation, candidate, baseline, config),
        ]
    except BaseException:
        probe.kill()
        raise
    return [
        *judged,
        checks.serving_check(probe, config),
        checks.size_check(release_dir, config),
        checks.ann_check(release_dir, users, config),
    ]


def write_blessing(
    blessing: types.Artifact,
    results: list[checks.Check],
    model: types.Artifact,
    baseline: types.Artifact | None,
) -> bool:
    """Writes BLESSED / NOT_BLESSED and the report; sets the properties TFX reads."""
    blessed = all(c.passed for c in results)
    tf.io.gfile.makedirs(blessing.uri)
    with tf.io.gfile.GFile(os.path.join(blessing.uri, REPORT_FILE), "w") as f:
        json.dump([dataclasses.asdict(c) for c in results], f, indent=2, default=float)
    marker = "BLESSED" if blessed else "NOT_BLESSED"
    with tf.io.gfile.GFile(os.path.join(blessing.uri, marker), "w") as f:
        f.write("")
    blessing.set_int_custom_property("blessed", int(blessed))
    # URIs, not ML Metadata ids: on Kubeflow an executor sees ids hashed
    # from the backend's artifact names, which mean nothing anywhere else.
    blessing.set_string_custom_property("current_model", model.uri)
    if baseline is not None:
        blessing.set_string_custom_property("baseline_model", baseline.uri)
        served = baseline.get_int_custom_property("served_version")
        if served:
            blessing.set_int_custom_property("baseline_version", served)
    return blessed


def read_report(blessing_uri: str) -> list[dict]:
    """The checks a ReleaseGate blessing recorded ([] for a blessing without a report)."""
    path = os.path.join(blessing_uri, REPORT_FILE)
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


class Executor(base_executor.BaseExecutor):
    """Runs the release checks; the blessing is the AND of them all."""

    def Do(self, input_dict: Artifacts, output_dict: Artifacts, exec_properties: Props) -> None:
        config = checks.GateConfig.from_json(exec_properties["gate_config"])
        model = artifact_utils.get_single_instance(input_dict["model"])
        # The served model; its artifact is empty when nothing is served yet.
        baselines = [b for b in input_dict.get("baseline_model") or [] if is_present(b.uri)]
        baseline = baselines[0] if baselines else None
        results = run_checks(
            path_utils.serving_model_path(model.uri),
            path_utils.serving_model_path(baseline.uri) if baseline else None,
            artifact_utils.get_single_uri(input_dict["examples"]),
            artifact_utils.get_single_uri(input_dict["evaluation"]),
            config,
            release_dir=refit.release_model_path(model.uri),
        )
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        blessed = write_blessing(blessing, results, model, baseline)
        for check in results:
            logging.info(
                "ReleaseGate %s: %s: %s",
                "ok" if check.passed else "FAILED",
                check.name,
                check.detail,
            )
        logging.info("ReleaseGate: %s", "blessed" if blessed else "not blessed")
