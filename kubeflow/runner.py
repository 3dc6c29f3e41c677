"""Compiling the pipeline for Kubeflow Pipelines v2 (KubeflowV2DagRunner)."""

from __future__ import annotations

import os

from recsearch import config as config_lib

DEFAULT_IMAGE = "ghcr.io/example/recsearch:0.1.0"


def compile_pipeline(
    config: config_lib.PipelineConfig,
    output_file: str,
    image: str = DEFAULT_IMAGE,
    pipeline_root: str = "gs://YOUR_BUCKET/recsearch",
    serving_dir: str | None = None,
) -> str:
    """Writes the KFP v2 pipeline spec (JSON) for `config`.

    Args:
      config: The pipeline config; its data paths must be readable from the
        cluster (for example gs:// URIs).
      output_file: Where to write the JSON spec.
      image: Container image with recsearch installed (see docs/kubeflow.md).
      pipeline_root: Artifact root on storage the cluster can write.
      serving_dir: Model base directory the Pusher writes to; defaults to
        `<pipeline_root>/serving/<name>`.

    Returns:
      The path written.
    """
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2

    from recsearch.pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(
        config,
        pipeline_root=pipeline_root,
        serving_dir=serving_dir or f"{pipeline_root.rstrip('/')}/serving/{config.name}",
        metadata_connection_config=None,
        beam_pipeline_args=config.beam.pipeline_args(),
    )
    output_file = os.path.abspath(output_file)
    os.makedirs(os.path.dirname(output_file), exist_ok=True)
    runner = v2.KubeflowV2DagRunner(
        config=v2.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(output_file),
        output_filename=os.path.basename(output_file),
    )
    runner.run(pipeline, write_out=True)
    return output_file
