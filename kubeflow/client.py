"""Submitting and scheduling the compiled pipeline on Kubeflow Pipelines with `kfp.Client`.

TFX's KubeflowV2DagRunner writes a PipelineJob (the pipeline spec plus its
runtime config); the KFP API takes the pipeline spec, so it is unpacked into a
YAML package first. Authentication comes from the environment: KFP_TOKEN (a
bearer token) or kfp's own variables (KF_PIPELINES_SA_TOKEN_PATH, the IAP
client ids), and the host from --host or KF_PIPELINES_ENDPOINT.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from typing import Any

import yaml

from recsearch.errors import RecsearchError

# Runtime parameters the compiled pipeline takes (see kubeflow/runner.py).
DATA_ROOT = "data_root"
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
        from recsearch.modules.model_factory import MODELS

        if model not in MODELS:
            raise RecsearchError(f"--model must be one of {MODELS}, got {model!r}")
        need(TRAINER_CONFIG)
        trainer = json.loads(defaults[TRAINER_CONFIG])
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


def submit(
    spec_path: str,
    host: str | None,
    namespace: str,
    experiment: str,
    params: dict[str, Any],
    run_name: str | None = None,
) -> str:
    """Creates one run; returns its id."""
    job = read_job(spec_path)
    client = kfp_client(host, namespace)
    with tempfile.TemporaryDirectory() as tmp, reaching(host):
        run = client.create_run_from_pipeline_package(
            write_package(job, tmp),
            arguments=params,
            run_name=run_name or job.get("displayName") or "recsearch",
            experiment_name=experiment,
            namespace=namespace,
            pipeline_root=job.get("runtimeConfig", {}).get("gcsOutputDirectory"),
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
    """Creates a recurring run; returns its id. The cron expression is checked first."""
    cron_expression = kfp_cron(cron)
    job = read_job(spec_path)
    client = kfp_client(host, namespace)
    with tempfile.TemporaryDirectory() as tmp, reaching(host):
        found = client.create_experiment(name=experiment, namespace=namespace)
        recurring = client.create_recurring_run(
            experiment_id=found.experiment_id,
            job_name=name or f"{job.get('displayName', 'recsearch')}-nightly",
            cron_expression=cron_expression,
            params=params,
            pipeline_package_path=write_package(job, tmp),
            pipeline_root=job.get("runtimeConfig", {}).get("gcsOutputDirectory"),
            max_concurrency=1,
            no_catchup=True,
        )
    return recurring.recurring_run_id
