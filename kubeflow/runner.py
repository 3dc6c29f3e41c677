"""Compiling the pipeline for Kubeflow Pipelines v2 (KubeflowV2DagRunner)."""

from __future__ import annotations

import dataclasses
import json
import os

from recsearch import config as config_lib

SERVING_EXECUTOR = "Trainer"


def runtime_values(config: config_lib.PipelineConfig):
    """The pipeline's runtime parameters, with the compiled values as defaults."""
    from tfx import v1 as tfx

    from recsearch.components.recsys_example_gen.component import split_input_path
    from recsearch.kubeflow import client
    from recsearch.pipeline.pipeline import RuntimeValues, trainer_config

    parameter = tfx.dsl.experimental.RuntimeParameter
    base, _ = split_input_path(config.resolve(config.interactions.path))
    return RuntimeValues(
        data_root=parameter(name=client.DATA_ROOT, ptype=str, default=base),
        range_config=parameter(name=client.RANGE_CONFIG, ptype=str, default=""),
        train_args=parameter(
            name=client.TRAIN_ARGS, ptype=str, default=json.dumps({"splits": ["train"]})
        ),
        trainer_config=parameter(
            name=client.TRAINER_CONFIG, ptype=str, default=json.dumps(trainer_config(config))
        ),
    )


def resource_spec(resources: config_lib.Resources):
    """A KFP v2 ResourceSpec (CPU, memory, accelerator limits) for a step."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    if resources.cpu:
        spec.cpu_limit = resources.cpu
    if resources.memory_gb:
        spec.memory_limit = resources.memory_gb
    if resources.accelerator:
        spec.accelerator.type = resources.accelerator
        spec.accelerator.count = max(1, resources.accelerator_count)
    return spec


def node_selectors(config: config_lib.PipelineConfig, components: list[str]) -> dict:
    """kfp-kubernetes platform spec with each step's node selector (KFP 2.1+ reads it)."""
    executors = {}
    for name in components:
        pool = config.kubeflow.trainer if name == SERVING_EXECUTOR else config.kubeflow.components
        if pool.node_selector:
            labels = dict(label.split("=", 1) for label in pool.node_selector)
            executors[f"{name}_executor"] = {"nodeSelector": {"labels": labels}}
    if not executors:
        return {}
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def compile_pipeline(
    config: config_lib.PipelineConfig,
    output_file: str,
    image: str | None = None,
    pipeline_root: str | None = None,
    serving_dir: str | None = None,
) -> str:
    """Writes the KFP v2 PipelineJob (JSON) for `config`.

    The data root, span, training steps and model stay runtime parameters;
    each step gets the CPU, memory and accelerator of `kubeflow.trainer` or
    `kubeflow.components`, and node selectors go into the platform spec.

    Args:
      config: The pipeline config; its data paths must be readable from the
        cluster (for example gs:// URIs).
      output_file: Where to write the JSON.
      image: Container image with recsearch installed (default: kubeflow.image).
      pipeline_root: Artifact root (default: kubeflow.pipeline_root).
      serving_dir: Model base directory the Pusher writes to (default:
        kubeflow.serving_dir or `<pipeline_root>/serving/<name>`).

    Returns:
      The path written.

    Raises:
      ConfigError: More than one training replica, which this runner cannot
        launch (see docs/kubeflow.md).
    """
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2

    from recsearch.errors import ConfigError
    from recsearch.pipeline.pipeline import create_pipeline

    settings = config.kubeflow
    if settings.trainer.replicas > 1:
        raise ConfigError(
            "'kubeflow.trainer.replicas' above 1 needs a multi-replica training backend "
            "(Vertex AI custom jobs or a TFJob), which KubeflowV2DagRunner cannot launch; "
            "see docs/kubeflow.md"
        )
    pipeline_root = pipeline_root or settings.pipeline_root
    runtime = runtime_values(config)
    pipeline = create_pipeline(
        config,
        pipeline_root=pipeline_root,
        serving_dir=serving_dir
        or settings.serving_dir
        or f"{pipeline_root.rstrip('/')}/serving/{config.name}",
        metadata_connection_config=None,
        beam_pipeline_args=config.beam.pipeline_args(),
        runtime=runtime,
    )
    for component in pipeline.components:
        if hasattr(component, "with_platform_config"):
            pool = settings.trainer if component.id == SERVING_EXECUTOR else settings.components
            spec = resource_spec(pool)
            if spec.ByteSize():
                component.with_platform_config(spec)
    output_file = os.path.abspath(output_file)
    os.makedirs(os.path.dirname(output_file), exist_ok=True)
    runner = v2.KubeflowV2DagRunner(
        config=v2.KubeflowV2DagRunnerConfig(default_image=image or settings.image),
        output_dir=os.path.dirname(output_file),
        output_filename=os.path.basename(output_file),
    )
    parameters = [getattr(runtime, f.name) for f in dataclasses.fields(runtime)]
    defaults = {p.name: p.default for p in parameters if p is not None}
    # The defaults become the job's parameter values, which a run may override.
    runner.run(pipeline, parameter_values=defaults, write_out=True)
    platform = node_selectors(config, [c.id for c in pipeline.components])
    if platform:
        with open(output_file, encoding="utf-8") as f:
            job = json.load(f)
        job["platformSpec"] = platform
        with open(output_file, "w", encoding="utf-8") as f:
            json.dump(job, f, indent=2, sort_keys=True)
    return output_file
