"""Submitting and scheduling the compiled pipeline: open-source KFP v2, or Vertex AI.

On open-source KFP (`kfp.Client`), every run and schedule first registers a
pipeline version named and described by the git commit and the image it was
compiled with; the run then points at that version. TFX's KubeflowV2DagRunner
writes a PipelineJob (the pipeline spec plus its runtime config); the KFP API
takes the pipeline spec, so it is unpacked into a YAML package first.
Authentication comes from the environment: KFP_TOKEN (a bearer token) or
kfp's own variables (KF_PIPELINES_SA_TOKEN_PATH, the IAP client ids), and the
host from --host or KF_PIPELINES_ENDPOINT.

On Vertex AI Pipelines, google-cloud-aiplatform's `PipelineJob` takes the
compiled JSON as it is, with the same labels; credentials are Google's
application default credentials.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from typing import Any

import yaml

from recsearch import model_registry
from recsearch.errors import RecsearchError

# Runtime parameters the compiled pipeline takes (see kubeflow/runner.py).
DATA_ROOT = "data_root"
SERVING_DIR = "serving_dir"
STATE_DIR = "state_dir"
RANGE_CONFIG = "range_config"
TRAIN_ARGS = "train_args"
TRAINER_CONFIG = "trainer_config"


def read_job(spec_path: str) -> dict:
    """The PipelineJob JSON written by `recsearch compile`."""
    try:
        with open(spec_path, encoding="utf-8") as f:
            job = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise RecsearchError(f"{spec_path}: not a compiled pipeline: {e}") from e
    if "pipelineSpec" not in job:
        raise RecsearchError(f"{spec_path}: no pipelineSpec; compile it with `recsearch compile`")
    return job


def write_package(job: dict, directory: str) -> str:
    """The pipeline spec as the YAML package kfp.Client uploads."""
    path = os.path.join(directory, "pipeline.yaml")
    documents = [job["pipelineSpec"]]
    if job.get("platformSpec"):
        documents.append(job["platformSpec"])
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(documents, f, sort_keys=False)
    return path


def arguments(
    job: dict,
    data_root: str | None = None,
    span: int | None = None,
    train_steps: int | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Runtime arguments from friendly values; defaults stay as compiled.

    Raises:
      RecsearchError: A value the compiled pipeline has no parameter for.
    """
    runtime = job.get("runtimeConfig", {})
    # Pipeline spec 2.0 keeps typed `parameters`; 2.1 plain `parameterValues`.
    defaults = {
        name: value.get("stringValue", value.get("intValue"))
        for name, value in runtime.get("parameters", {}).items()
    }
    defaults.update(runtime.get("parameterValues", {}))
    parameters = set(job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {}))
    args: dict[str, Any] = {}

    def need(name: str) -> None:
        if name not in parameters:
            raise RecsearchError(f"the compiled pipeline has no runtime parameter {name!r}")

    if data_root is not None:
        need(DATA_ROOT)
        args[DATA_ROOT] = data_root
    if span is not None:
        need(RANGE_CONFIG)
        args[RANGE_CONFIG] = json.dumps(
            {"static_range": {"start_span_number": span, "end_span_number": span}}
        )
    if train_steps is not None:
        need(TRAIN_ARGS)
        args[TRAIN_ARGS] = json.dumps({"splits": ["train"], "num_steps": train_steps})
    if model is not None:
        need(TRAINER_CONFIG)
        trainer = json.loads(defaults[TRAINER_CONFIG])
        fitting = (model_registry.AUTO, *model_registry.for_task(trainer["task"]))
        if model not in fitting:
            raise RecsearchError(
                f"--model must be one of {list(fitting)} for task {trainer['task']!r}, "
                f"got {model!r}"
            )
        trainer["model_name"] = model
        args[TRAINER_CONFIG] = json.dumps(trainer)
    return args


def kfp_client(host: str | None, namespace: str):
    import kfp

    with reaching(host):
        return kfp.Client(
            host=host, namespace=namespace, existing_token=os.environ.get("KFP_TOKEN")
        )


@contextlib.contextmanager
def reaching(host: str | None):
    """Turns a failure to reach the KFP API into one line that names the host."""
    import urllib3

    try:
        yield
    except (urllib3.exceptions.HTTPError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        where = host or os.environ.get("KF_PIPELINES_ENDPOINT") or "the default KFP endpoint"
        raise RecsearchError(
            f"cannot reach the Kubeflow Pipelines API at {where}: {reason} "
            "(check --host or KF_PIPELINES_ENDPOINT, and that the API is up)"
        ) from None


def version_name(job: dict) -> str:
    """A pipeline version's name: the pipeline, the commit it was compiled from, the time."""
    commit = job.get("labels", {}).get("recsearch-commit", "unknown")[:12]
    return f"{job.get('displayName') or 'recsearch'}-{commit}-{time.strftime('%Y%m%d-%H%M%S')}"


def version_description(job: dict) -> str:
    labels = job.get("labels", {})
    return (
        f"recsearch commit {labels.get('recsearch-commit', 'unknown')}, "
        f"image {labels.get('recsearch-image', 'unknown')}"
    )


def register_version(kfp, job: dict, package: str) -> tuple[str, str]:
    """Uploads the package as a new version of its pipeline; returns (pipeline, version) ids."""
    name = job.get("displayName") or "recsearch"
    pipeline_id = kfp.get_pipeline_id(name)
    if pipeline_id is None:
        pipeline_id = kfp.upload_pipeline(
            package, pipeline_name=name, description=f"recsearch pipeline {name}"
        ).pipeline_id
    version = kfp.upload_pipeline_version(
        package,
        pipeline_version_name=version_name(job),
        pipeline_id=pipeline_id,
        description=version_description(job),
    )
    return pipeline_id, version.pipeline_version_id


@contextlib.contextmanager
def _registered(spec_path: str, host: str | None, namespace: str, experiment: str):
    """Registers a version of the compiled pipeline in an experiment.

    Yields the client, the compiled job, and where a run of it goes (the
    experiment, pipeline, version and pipeline root a run or recurring run takes).
    """
    job = read_job(spec_path)
    kfp = kfp_client(host, namespace)
    with tempfile.TemporaryDirectory() as tmp, reaching(host):
        pipeline_id, version_id = register_version(kfp, job, write_package(job, tmp))
        found = kfp.create_experiment(name=experiment, namespace=namespace)
        yield (
            kfp,
            job,
            {
                "experiment_id": found.experiment_id,
                "pipeline_id": pipeline_id,
                "version_id": version_id,
                "pipeline_root": job.get("runtimeConfig", {}).get("gcsOutputDirectory"),
            },
        )


def submit(
    spec_path: str,
    host: str | None,
    namespace: str,
    experiment: str,
    params: dict[str, Any],
    run_name: str | None = None,
) -> str:
    """Registers a pipeline version and creates one run of it; returns the run id."""
    with _registered(spec_path, host, namespace, experiment) as (kfp, job, target):
        run = kfp.run_pipeline(
            job_name=run_name or job.get("displayName") or "recsearch", params=params, **target
        )
    return run.run_id


# Digits, *, ranges, steps, lists, ? and names (JAN, MON): what cron fields hold.
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#-]+$")


def kfp_cron(cron: str) -> str:
    """KFP wants six cron fields (seconds first); a five-field cron gets second 0.

    Raises:
      RecsearchError: Not five or six fields.
    """
    fields = cron.split()
    if len(fields) not in (5, 6) or not all(_CRON_FIELD.match(f) for f in fields):
        raise RecsearchError(
            f"--cron must be a cron expression of 5 or 6 fields, such as '0 2 * * *' "
            f"(02:00 every day), got {cron!r}"
        )
    return " ".join(["0", *fields]) if len(fields) == 5 else cron


def schedule(
    spec_path: str,
    host: str | None,
    namespace: str,
    experiment: str,
    cron: str,
    params: dict[str, Any],
    name: str | None = None,
) -> str:
    """Registers a pipeline version and a recurring run of it; returns the recurring run's id.

    The cron expression is checked before anything is sent.
    """
    cron_expression = kfp_cron(cron)
    with _registered(spec_path, host, namespace, experiment) as (kfp, job, target):
        recurring = kfp.create_recurring_run(
            job_name=name or f"{job.get('displayName', 'recsearch')}-nightly",
            cron_expression=cron_expression,
            params=params,
            max_concurrency=1,
            no_catchup=True,
            **target,
        )
    return recurring.recurring_run_id


@contextlib.contextmanager
def google_credentials():
    """Google's "no credentials" error as one line that says how to get them."""
    from google.auth import exceptions

    try:
        yield
    except exceptions.DefaultCredentialsError:
        raise RecsearchError(
            "no Google Cloud credentials: run `gcloud auth application-default login`, or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
        ) from None


def vertex_job(
    spec_path: str,
    project: str | None,
    region: str,
    params: dict[str, Any],
    run_name: str | None = None,
    credentials=None,
):
    """The compiled spec as a google-cloud-aiplatform PipelineJob (not yet sent).

    Raises:
      RecsearchError: No project, or a pipeline root Vertex cannot write.
    """
    from google.cloud import aiplatform

    job = read_job(spec_path)
    if not project:
        raise RecsearchError(
            f"{spec_path}: Vertex AI needs a project: pass --project, or set kubeflow.project "
            "and compile again (this spec was compiled without one)"
        )
    root = job.get("runtimeConfig", {}).get("gcsOutputDirectory", "")
    if not root.startswith("gs://"):
        raise RecsearchError(
            f"{spec_path}: Vertex AI needs a gs:// pipeline root, the spec has {root!r}; "
            "compile with --pipeline-root gs://..."
        )
    with google_credentials():
        return aiplatform.PipelineJob(
            display_name=run_name or job.get("displayName") or "recsearch",
            template_path=spec_path,
            pipeline_root=root,
            parameter_values=params,
            labels=job.get("labels", {}),
            project=project,
            location=region,
            credentials=credentials,
        )


def submit_vertex(
    spec_path: str,
    project: str | None,
    region: str,
    params: dict[str, Any],
    service_account: str | None = None,
    run_name: str | None = None,
    credentials=None,
) -> str:
    """Creates a Vertex AI pipeline run; returns its resource name."""
    pipeline = vertex_job(spec_path, project, region, params, run_name, credentials)
    with google_credentials():
        pipeline.submit(service_account=service_account)
    return pipeline.resource_name


def schedule_vertex(
    spec_path: str,
    project: str | None,
    region: str,
    cron: str,
    params: dict[str, Any],
    service_account: str | None = None,
    name: str | None = None,
    credentials=None,
) -> str:
    """Creates a Vertex AI pipeline schedule (five-field cron); returns its resource name."""
    fields = kfp_cron(cron).split()[1:]  # checked as for KFP; Vertex takes five fields
    pipeline = vertex_job(spec_path, project, region, params, None, credentials)
    display_name = read_job(spec_path).get("displayName") or "recsearch"
    with google_credentials():
        created = pipeline.create_schedule(
            cron=" ".join(fields),
            display_name=name or f"{display_name}-nightly",
            max_concurrent_run_count=1,
            service_account=service_account,
        )
    return created.resource_name
