"""Where the pipeline runs: Beam, and Kubeflow Pipelines with its resources."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Literal


@dataclasses.dataclass(frozen=True)
class Beam:
    """Beam settings for the data-parallel components.

    Attributes:
      runner: DirectRunner (local), DataflowRunner, FlinkRunner or SparkRunner.
      direct_num_workers: DirectRunner workers; 0 (the default) is one per
        core available to the process, cgroup CPU limits honoured (on
        Kubeflow: the steps' `kubeflow.components.cpu`).
      direct_running_mode: multi_processing (every DoFn is pickled and run in
        worker processes, as on a distributed runner), multi_threading,
        in_memory (one process), or auto (the default): multi_processing
        when the interaction files hold at least 16 MiB or the run is on
        Kubeflow, in_memory with one worker below that, where starting the
        workers would cost more than it saves.
      extra_args: Further Beam pipeline arguments, passed through unchanged
        (for Dataflow: --project, --region, --temp_location; for Flink:
        --flink_master; for Spark: --spark_master_url; see docs/scale.md).
    """

    runner: Literal["DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner"] = "DirectRunner"
    direct_num_workers: int = 0
    direct_running_mode: Literal["auto", "in_memory", "multi_threading", "multi_processing"] = (
        "auto"
    )
    extra_args: tuple[str, ...] = ()

    def pipeline_args(self, cores: int | None = None, data_bytes: int | None = None) -> list[str]:
        """Beam's arguments.

        Args:
          cores: DirectRunner workers when `direct_num_workers` is 0; by
            default the cores available to this process.
          data_bytes: The size of the interaction files, for the `auto`
            running mode; None (unknown, as when compiling for Kubeflow)
            counts as large.
        """
        if self.runner != "DirectRunner":
            return [f"--runner={self.runner}", *self.extra_args]
        mode = self.direct_running_mode
        workers = self.direct_num_workers or cores or available_cores()
        if mode == "auto":
            small = data_bytes is not None and data_bytes < AUTO_MULTI_PROCESSING_BYTES
            mode = "in_memory" if small else "multi_processing"
            workers = 1 if small else workers
        if (mode, workers) == BEAM_DEFAULTS:
            # Beam's own defaults, so nothing to pass: given any Beam argument, TFX
            # builds an sdist of itself for the workers (make_beam_dependency_flags),
            # about 2 s per Beam component, which a DirectRunner never installs.
            return list(self.extra_args)
        return [
            f"--direct_num_workers={workers}",
            f"--direct_running_mode={mode}",
            *self.extra_args,
        ]


# DirectRunner's running mode and workers when no argument names them.
BEAM_DEFAULTS = ("in_memory", 1)
# Below this much interaction data, `direct_running_mode: auto` runs Beam in one process.
AUTO_MULTI_PROCESSING_BYTES = 16 << 20


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for path, parse in (
        ("/sys/fs/cgroup/cpu.max", lambda t: t.split()),  # cgroup v2: "quota period"
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", lambda t: [t, "100000"]),  # cgroup v1
    ):
        try:
            with open(path) as f:
                quota, period = parse(f.read().strip())
        except (OSError, ValueError):
            continue
        if quota not in ("max", "-1"):
            if path.endswith("cfs_quota_us"):
                try:
                    with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                        period = f.read().strip()
                except OSError:
                    pass
            cores = min(cores or 1, max(1, math.ceil(int(quota) / int(period))))
        break
    return max(1, cores or 1)


@dataclasses.dataclass(frozen=True)
class Resources:
    """Compute requested for a pipeline step on Kubeflow.

    Attributes:
      cpu: vCPUs (0: the cluster's default).
      memory_gb: Memory in GB (0: the cluster's default).
      accelerator: Accelerator type by its Vertex name, for example
        NVIDIA_TESLA_T4 or TPU_V3 (unset: none); on open-source KFP a GPU is
        requested as the Kubernetes resource nvidia.com/gpu.
      accelerator_count: Accelerators per replica.
      replicas: Training replicas (workers); above 1 the strategy must be a
        multi-worker one.
      node_selector: Kubernetes node labels the step must run on, "key=value".
    """

    cpu: float = 0.0
    memory_gb: float = 0.0
    accelerator: str | None = None
    accelerator_count: int = 0
    replicas: int = 1
    node_selector: tuple[str, ...] = ()


KUBEFLOW_TARGETS = ("kfp", "vertex")


@dataclasses.dataclass(frozen=True)
class Kubeflow:
    """Compiling for and running on Kubeflow Pipelines v2.

    Attributes:
      target: `kfp` (open-source Kubeflow Pipelines v2) or `vertex` (Vertex
        AI Pipelines): how accelerators are named and where runs go.
      image: Container image with recsearch installed (see docs/kubeflow.md).
      gpu_image: The image's GPU variant (TensorFlow's CUDA wheels), used by
        the Trainer when it asks for a GPU (default: image with a -gpu tag).
      pipeline_root: Artifact root the cluster can write (gs://, s3://, ...).
      data_root: Where the tables are on the cluster; the config's relative
        table paths are read under it (a run may override it).
      serving_dir: Model base directory the Pusher writes to
        (default: <pipeline_root>/serving/<name>).
      host: KFP API endpoint (default: KF_PIPELINES_ENDPOINT).
      namespace: Kubernetes namespace of the runs.
      experiment: KFP experiment the runs are filed under.
      project: Google Cloud project of Vertex runs.
      region: Vertex region.
      service_account: Service account Vertex runs as (unset: the default).
      trainer: Resources of the Trainer step.
      components: Resources of every other step.
    """

    target: str = "kfp"
    image: str = "ghcr.io/example/recsearch:0.1.0"
    gpu_image: str | None = None
    pipeline_root: str = "gs://YOUR_BUCKET/recsearch"
    data_root: str | None = None
    serving_dir: str | None = None
    host: str | None = None
    namespace: str = "kubeflow"
    experiment: str = "recsearch"
    project: str | None = None
    region: str = "us-central1"
    service_account: str | None = None
    trainer: Resources = dataclasses.field(
        default_factory=lambda: Resources(cpu=4.0, memory_gb=16.0)
    )
    components: Resources = dataclasses.field(
        default_factory=lambda: Resources(cpu=2.0, memory_gb=8.0)
    )
