"""Choosing the tf.distribute strategy the Trainer trains under, from the config."""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu", "parameter_server")


def make_strategy(name: str, tpu: str = "") -> tf.distribute.Strategy:
    """The strategy named in `training.strategy`.

    - default: one device.
    - mirrored: every local GPU (falls back to the CPU without GPUs).
    - multi_worker_mirrored: synchronous data parallelism across the workers
      described by the TF_CONFIG environment variable (Kubeflow and Vertex AI
      set it for each replica).
    - tpu: a TPU, found through `tpu` (an address or name; "" for the local one).
    - parameter_server: asynchronous training with variables sharded on
      parameter servers (for very large embedding tables); needs TF_CONFIG with
      "chief", "worker" and "ps" tasks.

    Raises:
      ValueError: On an unknown name, or a cluster strategy without TF_CONFIG.
    """
    if name not in STRATEGIES:
        raise ValueError(f"training.strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if "TF_CONFIG" not in os.environ:
        raise ValueError(f"training.strategy {name!r} needs TF_CONFIG describing the cluster")
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return tf.distribute.experimental.ParameterServerStrategy(resolver)


def check_devices(accelerator: str | None) -> list[str]:
    """Logs the devices TensorFlow sees; fails when a requested GPU is not among them.

    Args:
      accelerator: What the step asked for (kubeflow.trainer.accelerator):
        a GPU name (NVIDIA_..., nvidia.com/gpu), a TPU name, or None.

    Returns:
      The visible device names.

    Raises:
      RuntimeError: A GPU was requested and TensorFlow sees none (for example
        the CPU image was used, or the node has no driver), rather than
        training on the CPU without a word.
    """
    import logging

    devices = [d.name for d in tf.config.list_physical_devices()]
    logging.info("Trainer: devices visible to TensorFlow: %s", ", ".join(devices) or "none")
    wants_gpu = bool(accelerator) and not accelerator.upper().startswith("TPU")
    if wants_gpu and not tf.config.list_physical_devices("GPU"):
        raise RuntimeError(
            f"the Trainer asked for a GPU ({accelerator}) but TensorFlow sees none "
            f"(visible: {', '.join(devices) or 'none'}); run the Trainer on the image's GPU "
            "variant (kubeflow.gpu_image, `make image VARIANT=gpu`) on a node with a GPU and "
            "its driver, or remove kubeflow.trainer.accelerator"
        )
    return devices


def is_chief() -> bool:
    """Whether this process writes outputs (the chief, or worker 0 without a chief)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
