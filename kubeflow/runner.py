"""Compiling the pipeline for Kubeflow Pipelines v2 and Vertex AI Pipelines.

TFX's KubeflowV2DagRunner writes the PipelineJob; this module decides what
goes into it and fixes what the runner leaves out:

- pipeline spec schema 2.1, so TFX's container entrypoint reads each step's
  parameters from `parameterValues`, the only field the open-source KFP v2
  driver fills;
- every root parameter with its default in the spec itself, so a run that
  sends no runtime config (kfp.Client, a recurring run) still has them;
- no path of the compiling machine: tables are read under the run's
  `data_root`, and a local path anywhere is refused, naming its key;
- resources for every step, ExampleGen included, with accelerators named as
  the target wants them (`nvidia.com/gpu` on KFP, Vertex's names on Vertex);
- the ServedModel step never cached (it reads what is served now).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess

from recsearch import config as config_lib
from recsearch import model_registry, storage
from recsearch.errors import ConfigError, collecting, report

TRAINER = "Trainer"
OBJECT_STORES = ("gs://", "s3://")
KFP_GPU = "nvidia.com/gpu"
TARGET_LABEL = "recsearch-target"  # where `submit` and `schedule` send the spec
# Vertex: the project and region `submit` and `schedule` use unless given.
PROJECT_LABEL = "recsearch-project"
REGION_LABEL = "recsearch-region"


def runtime_values(
    config: config_lib.PipelineConfig, data_root: str, serving_dir: str, state_dir: str
):
    """The pipeline's runtime parameters, with the compiled values as defaults."""
    from tfx import v1 as tfx

    from recsearch.config.trainer_settings import TrainerSettings
    from recsearch.kubeflow import client
    from recsearch.pipeline.pipeline import RuntimeValues

    parameter = tfx.dsl.experimental.RuntimeParameter
    return RuntimeValues(
        data_root=parameter(name=client.DATA_ROOT, ptype=str, default=data_root),
        serving_dir=parameter(name=client.SERVING_DIR, ptype=str, default=serving_dir),
        state_dir=parameter(name=client.STATE_DIR, ptype=str, default=state_dir),
        range_config=parameter(name=client.RANGE_CONFIG, ptype=str, default=""),
        train_args=parameter(
            name=client.TRAIN_ARGS, ptype=str, default=json.dumps({"splits": ["train"]})
        ),
        trainer_config=parameter(
            name=client.TRAINER_CONFIG,
            ptype=str,
            # The Trainer fails clearly when the GPU it asked for is not there.
            default=json.dumps(
                dataclasses.replace(
                    TrainerSettings.from_config(config),
                    accelerator=config.kubeflow.trainer.accelerator,
                ).to_custom_config()
            ),
        ),
    )


def _is_local(path: str) -> bool:
    return "://" not in path


def cluster_config(
    config: config_lib.PipelineConfig, pipeline_root: str, data_root: str | None, serving_dir: str
) -> config_lib.PipelineConfig:
    """The config as the cluster reads it: relative paths under `data_root`.

    Raises:
      ConfigError: Every path of this machine, each naming its key: roots
        that are not on an object store, absolute local paths, relative paths
        that climb out of the data root.
    """
    with collecting():
        for key, value in (
            ("kubeflow.pipeline_root", pipeline_root),
            ("kubeflow.data_root", data_root),
            ("kubeflow.serving_dir", serving_dir),
        ):
            if not value:
                report(
                    ConfigError(
                        f"'{key}' is required to compile for Kubeflow: where the cluster "
                        "reads the tables (gs://BUCKET/... or s3://BUCKET/...); "
                        "set it in the config or pass --data-root"
                    )
                )
            elif not value.startswith(OBJECT_STORES):
                report(
                    ConfigError(
                        f"'{key}' is {value!r}, which the cluster cannot reach; "
                        "use a gs:// or s3:// URI"
                    )
                )
        paths = {
            "interactions.path": config.interactions.path,
            "items.path": config.items.path if config.items else None,
            "users.path": config.users.path if config.users else None,
            "schema": config.schema,
            **{
                f"model.{key}": config.model.settings.get(key)
                for family in model_registry.FAMILIES.values()
                for key in family.paths
            },
        }
        for key, value in paths.items():
            if not value or not _is_local(value):
                continue
            if os.path.isabs(value):
                report(
                    ConfigError(
                        f"'{key}' is a path on this machine ({value}); on Kubeflow give it "
                        "relative to kubeflow.data_root, or as a gs:// or s3:// URI"
                    )
                )
            elif ".." in value.split("/"):
                report(
                    ConfigError(
                        f"'{key}' ({value}) climbs out of kubeflow.data_root; "
                        "give it under the data root, or as a gs:// or s3:// URI"
                    )
                )
    return dataclasses.replace(config, base_dir=data_root)


def accelerator_name(resources: config_lib.Resources, target: str, key: str) -> str | None:
    """The accelerator as `target` names it.

    Raises:
      ConfigError: A name the target cannot schedule.
    """
    name = resources.accelerator
    if not name:
        return None
    if target == "vertex":
        if "/" in name:
            raise ConfigError(
                f"'{key}.accelerator' is {name!r}, a Kubernetes resource name; Vertex wants "
                "its own names, for example NVIDIA_TESLA_T4, NVIDIA_L4 or TPU_V3"
            )
        return name
    if name.startswith("TPU"):
        raise ConfigError(
            f"'{key}.accelerator' is {name!r}: open-source KFP schedules no TPUs; "
            "use kubeflow.target: vertex"
        )
    if name.startswith("NVIDIA_") or name == KFP_GPU:
        return KFP_GPU
    if "/" in name:
        return name  # another device plugin's resource, for example amd.com/gpu
    raise ConfigError(
        f"'{key}.accelerator' is {name!r}; on KFP give a Vertex GPU name "
        f"(NVIDIA_TESLA_T4, requested as {KFP_GPU}) or a Kubernetes resource name"
    )


def resource_spec(resources: config_lib.Resources, accelerator: str | None) -> dict:
    """A step's KFP v2 ResourceSpec (CPU, memory, accelerator limits), as spec JSON."""
    spec: dict = {}
    if resources.cpu:
        spec["cpuLimit"] = resources.cpu
    if resources.memory_gb:
        spec["memoryLimit"] = resources.memory_gb
    if accelerator:
        spec["accelerator"] = {
            "type": accelerator,
            "count": str(max(1, resources.accelerator_count)),
        }
    return spec


def gpu_image(settings: config_lib.Kubeflow, image: str) -> str:
    """The GPU variant of `image`: kubeflow.gpu_image, or the same tag with -gpu.

    Raises:
      ConfigError: The image is pinned by digest, so no variant can be derived.
    """
    if settings.gpu_image:
        return settings.gpu_image
    if "@" in image:
        raise ConfigError(
            f"kubeflow.image {image!r} is pinned by digest; set kubeflow.gpu_image "
            "for the Trainer's GPU variant"
        )
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return f"{image}:latest-gpu"
    return f"{repository}:{tag}-gpu"


def node_selectors(config: config_lib.PipelineConfig, components: list[str]) -> dict:
    """kfp-kubernetes platform spec with each step's node selector (KFP 2.1+ reads it)."""
    executors = {}
    for name in components:
        pool = config.kubeflow.trainer if name == TRAINER else config.kubeflow.components
        if pool.node_selector:
            labels = dict(label.split("=", 1) for label in pool.node_selector)
            executors[f"{name}_executor"] = {"nodeSelector": {"labels": labels}}
    if not executors:
        return {}
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def _label(value: str) -> str:
    """A label value Vertex and Kubernetes accept: [a-z0-9_-], at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63].strip("-") or "unknown"


def source_commit() -> str:
    """The git commit of the recsearch checkout that compiles ("unknown" outside git)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def build_labels(image: str, commit: str) -> dict[str, str]:
    """What a run and a pipeline version are labelled with: the code and the image.

    The image is named by its digest when it is pinned (`repo@sha256:...`),
    which is the only name that cannot move; a tag is labelled "unpinned-...".
    """
    if "@" in image:
        digest = image.split("@", 1)[1].replace(":", "-")
    else:
        digest = "unpinned-" + image.rsplit("/", 1)[-1].replace(":", "-")
    return {"recsearch-commit": _label(commit), "recsearch-image": _label(digest)}


def finish_spec(
    job: dict,
    defaults: dict[str, str],
    never_cached: tuple[str, ...],
    resources: dict[str, dict],
    env: dict[str, str],
) -> None:
    """What KubeflowV2DagRunner leaves out: root defaults, no cache for some steps,
    resources on every step (it drops them for ExampleGen), and the environment."""
    for name, executor in job["pipelineSpec"]["deploymentSpec"]["executors"].items():
        if "container" not in executor:
            continue
        step = name.removesuffix("_executor")
        spec = resources.get(step, resources["default"])
        if spec:
            executor["container"]["resources"] = spec
        if env:
            executor["container"]["env"] = [{"name": k, "value": v} for k, v in env.items()]
    parameters = job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, spec in parameters.items():
        if name in defaults:
            spec["defaultValue"] = defaults[name]
    for name, task in job["pipelineSpec"]["root"]["dag"]["tasks"].items():
        if name in never_cached:
            task["cachingOptions"] = {"enableCache": False}


def compile_pipeline(
    config: config_lib.PipelineConfig,
    output_file: str,
    image: str | None = None,
    pipeline_root: str | None = None,
    serving_dir: str | None = None,
    data_root: str | None = None,
) -> str:
    """Writes the KFP v2 PipelineJob (JSON) for `config`.

    The data root, span, training steps and model stay runtime parameters,
    each with its default in the spec; each step gets the CPU, memory and
    accelerator of `kubeflow.trainer` or `kubeflow.components`, and node
    selectors go into the platform spec.

    Args:
      config: The pipeline config; its table paths are relative to the data
        root, or gs:// or s3:// URIs.
      output_file: Where to write the JSON.
      image: Container image with recsearch installed (default: kubeflow.image).
      pipeline_root: Artifact root (default: kubeflow.pipeline_root).
      serving_dir: Model base directory the Pusher writes to (default:
        kubeflow.serving_dir or `<pipeline_root>/serving/<name>`).
      data_root: Where the tables are (default: kubeflow.data_root).

    Returns:
      The path written.

    Raises:
      ConfigError: A path of this machine, an accelerator the target cannot
        schedule, or more than one training replica (see docs/kubeflow.md).
    """
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2
    from tfx.orchestration.kubeflow.v2.pipeline_builder import DEFAULT_IMAGE_PATH_KEY

    from recsearch.pipeline.pipeline import NEVER_CACHED, create_pipeline, state_dir

    settings = config.kubeflow
    if settings.trainer.replicas > 1:
        raise ConfigError(
            "'kubeflow.trainer.replicas' above 1 needs a multi-replica training backend "
            "(Vertex AI custom jobs or a TFJob), which KubeflowV2DagRunner cannot launch; "
            "see docs/kubeflow.md"
        )
    pipeline_root = (pipeline_root or settings.pipeline_root).rstrip("/")
    serving_dir = serving_dir or settings.serving_dir or f"{pipeline_root}/serving/{config.name}"
    config = cluster_config(config, pipeline_root, data_root or settings.data_root, serving_dir)
    accelerators = {
        pool: accelerator_name(getattr(settings, pool), settings.target, f"kubeflow.{pool}")
        for pool in ("trainer", "components")
    }
    runtime = runtime_values(
        config, config.base_dir, serving_dir, state_dir(pipeline_root, config.name)
    )
    pipeline = create_pipeline(
        config,
        pipeline_root=pipeline_root,
        serving_dir=serving_dir,
        metadata_connection_config=None,
        # DirectRunner workers: the cores each step requests, not the compiling machine's.
        beam_pipeline_args=config.beam.pipeline_args(cores=math.ceil(settings.components.cpu) or 1),
        runtime=runtime,
    )
    image = image or settings.image
    images = {DEFAULT_IMAGE_PATH_KEY: image}
    resources = {
        "default": resource_spec(settings.components, accelerators["components"]),
        TRAINER: resource_spec(settings.trainer, accelerators["trainer"]),
    }
    if accelerators["trainer"] and not accelerators["trainer"].startswith("TPU"):
        images[TRAINER] = gpu_image(settings, image)
    output_file = os.path.abspath(output_file)
    os.makedirs(os.path.dirname(output_file), exist_ok=True)
    runner = v2.KubeflowV2DagRunner(
        config=v2.KubeflowV2DagRunnerConfig(
            default_image=images if len(images) > 1 else image, use_pipeline_spec_2_1=True
        ),
        output_dir=os.path.dirname(output_file),
        output_filename=os.path.basename(output_file),
    )
    parameters = [getattr(runtime, f.name) for f in dataclasses.fields(runtime)]
    defaults = {p.name: p.default for p in parameters if p is not None}
    runner.run(pipeline, parameter_values=defaults, write_out=True)
    with open(output_file, encoding="utf-8") as f:
        job = json.load(f)
    # Any root on s3:// needs tensorflow-io's filesystem in every step (recsearch/storage.py).
    s3 = storage.needs_s3(pipeline_root, config.base_dir, serving_dir)
    finish_spec(job, defaults, NEVER_CACHED, resources, {storage.ENV: "s3"} if s3 else {})
    job.setdefault("labels", {}).update(
        {**build_labels(image, source_commit()), TARGET_LABEL: settings.target}
    )
    if settings.target == "vertex":
        vertex = {PROJECT_LABEL: settings.project, REGION_LABEL: settings.region}
        job["labels"].update({k: v for k, v in vertex.items() if v})
    platform = node_selectors(config, [c.id for c in pipeline.components])
    if platform:
        job["platformSpec"] = platform
    with open(output_file, "w", encoding="utf-8") as f:
        json.dump(job, f, indent=2, sort_keys=True)
    return output_file
