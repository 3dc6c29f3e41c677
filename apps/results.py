"""What a pipeline run produced, read back from ML Metadata: metrics, blessing, push."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from recsearch.components.evaluator.results import (
    describe_failure,
    read_event_metrics,
    read_metrics,
)


@dataclasses.dataclass
class RunSummary:
    """The outcome of the latest run of a pipeline.

    Attributes:
      metrics: Candidate metrics of the overall slice, by name.
      baseline_metrics: The served model's metrics on this run's eval split, empty on a first run.
      blessed: Whether the Evaluator blessed the candidate.
      reasons: Why not, one line per failed threshold.
      pushed_to: The version directory the Pusher wrote, or None.
      serving_dir: The model base directory (what `recommend --model-dir` takes).
      checks: The release gate's checks: name, passed, detail, figures.
      report: Path of the run's HTML report, if one was written.
      model_run: The Trainer's run directory (logs, history, warm-start report).
      timings: Seconds per component, when the run was watched.
      peak_rss: Peak resident bytes per component (with its Beam workers),
        when measured.
      served_data: Which interactions the judged and the served model saw.
      selection: With `model: auto`, one line per candidate and why the winner won.
      event_metrics: The candidate's metrics per event type (with an event column).
      disk: What the run wrote and what the output folder holds (a local run's).
    """

    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    blessed: bool
    reasons: list[str]
    pushed_to: str | None
    serving_dir: str | None
    checks: list[dict] = dataclasses.field(default_factory=list)
    report: str | None = None
    model_run: str | None = None
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    peak_rss: dict[str, int] = dataclasses.field(default_factory=dict)
    served_data: str = ""
    selection: list[str] = dataclasses.field(default_factory=list)
    event_metrics: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    disk: Any = None


def connection_config(sqlite_path: str) -> metadata_store_pb2.ConnectionConfig:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_path
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    )
    return config


GATE = "ReleaseGate"
REPORT = "RunReport"


def _latest_from(store: mlmd.MetadataStore, context_id: int, type_name: str, producer: str):
    try:
        type_id = store.get_artifact_type(type_name).id
    except mlmd.errors.NotFoundError:
        return None
    artifacts = [
        a
        for a in store.get_artifacts_by_context(context_id)
        if a.type_id == type_id and f"/{producer}/" in a.uri
    ]
    return max(artifacts, key=lambda a: a.id) if artifacts else None


def latest_artifact_uri(sqlite_path: str, pipeline_name: str, type_name: str, producer: str) -> str:
    """URI of the newest artifact of a type written by one component of a pipeline.

    TFX writes outputs under `<pipeline_root>/<component id>/<output key>/<id>`,
    which tells the raw Examples of ExampleGen from Transform's, say.

    Raises:
      LookupError: There is none.
    """
    store = mlmd.MetadataStore(connection_config(sqlite_path))
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    artifact = _latest_from(store, context.id, type_name, producer) if context else None
    if artifact is None:
        raise LookupError(f"no {type_name} from {producer} in pipeline {pipeline_name!r}")
    return artifact.uri


def _latest(store: mlmd.MetadataStore, context_id: int, type_name: str):
    type_id = store.get_artifact_type(type_name).id
    artifacts = [a for a in store.get_artifacts_by_context(context_id) if a.type_id == type_id]
    return max(artifacts, key=lambda a: a.id) if artifacts else None


def report_path(value_uri: str) -> str:
    from recsearch.components.run_report.executor import report_path as path

    return path(value_uri)


def summarize(sqlite_path: str, pipeline_name: str) -> RunSummary:
    """Reads the latest evaluation, blessing and push of `pipeline_name`.

    Raises:
      LookupError: The pipeline has never produced an evaluation.
    """
    import tensorflow_model_analysis as tfma

    store = mlmd.MetadataStore(connection_config(sqlite_path))
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if context is None:
        raise LookupError(f"no pipeline named {pipeline_name!r} in {sqlite_path}")
    evaluation = _latest(store, context.id, "ModelEvaluation")
    if evaluation is None:
        raise LookupError(f"pipeline {pipeline_name!r} has no evaluation yet")
    metrics, baseline = read_metrics(evaluation.uri)
    by_event = read_event_metrics(evaluation.uri)
    validation = tfma.load_validation_result(evaluation.uri)
    reasons = [
        describe_failure(f, metrics, baseline)
        for per_slice in validation.metric_validations_per_slice
        for f in per_slice.failures
    ]
    if validation.missing_thresholds:
        reasons.append("no threshold matched a computed metric")
    blessing = _latest_from(store, context.id, "ModelBlessing", GATE)
    blessed = bool(blessing and blessing.custom_properties["blessed"].int_value)
    checks = []
    if blessing is not None:
        from recsearch.components.release_gate.executor import read_report

        checks = read_report(blessing.uri)
        reasons = [f"{c['name']}: {c['detail']}" for c in checks if not c["passed"]]
    pushed = _latest(store, context.id, "PushedModel")
    pushed_to, serving_dir = None, None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        pushed_to = pushed.custom_properties["pushed_destination"].string_value
        serving_dir = os.path.dirname(pushed_to.rstrip("/"))
    report = _latest_from(store, context.id, "system.HTML", REPORT)
    model_run = _latest_from(store, context.id, "ModelRun", "Trainer")
    served_data, selection = "", []
    if model_run is not None:
        from recsearch.components.run_report import gather
        from recsearch.modules import selection as selection_lib

        served_data = gather.served_data_sentence(
            gather.training_history(model_run.uri),
            gather.training_history(model_run.uri, "refit_history.json"),
        )
        selection = (selection_lib.read(model_run.uri) or {}).get("lines", [])
    return RunSummary(
        metrics,
        baseline,
        blessed,
        reasons,
        pushed_to,
        serving_dir,
        checks,
        report=report_path(report.uri) if report is not None else None,
        model_run=model_run.uri if model_run is not None else None,
        served_data=served_data,
        selection=selection,
        event_metrics=by_event,
    )
