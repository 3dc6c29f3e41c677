"""`recsearch report`: rebuild a pipeline's latest report from ML Metadata."""

from __future__ import annotations

import os

import ml_metadata as mlmd

from recsearch import config as config_lib
from recsearch.apps.local import LocalPaths
from recsearch.apps.results import connection_config
from recsearch.components.run_report.build import ReportInputs, build
from recsearch.errors import RecsearchError

_INPUTS = {
    "statistics": ("ExampleStatistics", "StatisticsGen"),
    "schema": ("Schema", "SchemaGen"),
    "anomalies": ("ExampleAnomalies", "ExampleValidator"),
    "examples": ("Examples", "RecsysExampleGen"),
    "model_run": ("ModelRun", "Trainer"),
    "model": ("Model", "Trainer"),
    "evaluation": ("ModelEvaluation", "Evaluator"),
    "blessing": ("ModelBlessing", "ReleaseGate"),
}


def from_metadata(config: config_lib.PipelineConfig, output: str) -> str:
    """Writes `<output>/reports/<name>.html` from the pipeline's newest artifacts.

    Raises:
      RecsearchError: The pipeline never ran under `output`.
    """
    paths = LocalPaths.under(output, config.name)
    if not os.path.isfile(paths.metadata):
        raise RecsearchError(f"{paths.metadata}: no metadata; run the pipeline first")
    store = mlmd.MetadataStore(connection_config(paths.metadata))
    context = store.get_context_by_type_and_name("pipeline", config.name)
    if context is None:
        raise RecsearchError(f"{paths.metadata}: pipeline {config.name!r} never ran here")
    artifacts = store.get_artifacts_by_context(context.id)
    types = {t.id: t.name for t in store.get_artifact_types()}

    def newest(type_name: str, producer: str, skip: int = 0) -> str | None:
        found = sorted(
            (a for a in artifacts if types[a.type_id] == type_name and f"/{producer}/" in a.uri),
            key=lambda a: a.id,
            reverse=True,
        )
        return found[skip].uri if len(found) > skip else None

    uris = {key: newest(*spec) for key, spec in _INPUTS.items()}
    if not uris["statistics"] or not uris["schema"] or not uris["examples"]:
        raise RecsearchError(f"pipeline {config.name!r} has no complete run under {output}")
    model = uris["model"]
    pushed = [a for a in artifacts if types[a.type_id] == "PushedModel"]
    pushed_to = None
    if pushed:
        last = max(pushed, key=lambda a: a.id)
        if last.custom_properties["pushed"].int_value:
            pushed_to = last.custom_properties["pushed_destination"].string_value
    report = build(
        ReportInputs(
            config=config,
            previous_schema=newest("Schema", "SchemaGen", skip=1),
            model=os.path.join(model, "Format-Serving") if model else None,
            pushed_to=pushed_to,
            **{k: v for k, v in uris.items() if k != "model"},
        )
    )
    directory = os.path.join(paths.output, "reports")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{config.name}.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(report.html)
    return path
