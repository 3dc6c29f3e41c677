"""The Trainer's device check: a requested GPU that TensorFlow does not see is an error."""

import pytest
import tensorflow as tf

from recsearch.modules import distribute


def test_devices_are_listed_and_a_missing_gpu_fails_clearly():
    visible = distribute.check_devices(None)
    assert "/physical_device:CPU:0" in visible
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: the failure cannot be provoked")
    for asked in ("NVIDIA_TESLA_T4", "nvidia.com/gpu"):
        with pytest.raises(
            RuntimeError, match=rf"asked for a GPU \({asked}\) but TensorFlow sees none"
        ):
            distribute.check_devices(asked)
    # A TPU is found by the TPU strategy, not here.
    assert distribute.check_devices("TPU_V3") == visible


def test_unknown_strategy_and_cluster_strategies_without_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="training.strategy must be one of"):
        distribute.make_strategy("horovod")
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        distribute.make_strategy("multi_worker_mirrored")
