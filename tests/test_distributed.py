"""MultiWorkerMirroredStrategy across two local CPU worker processes.

Both workers must end with the same weights, equal to one process training on
the same global batches: so every worker's gradients reached the one model.
"""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules import distribute
from recsearch.modules.models.mf import BiasedMF
from recsearch.modules.warm_start import named_weights
from tests.distributed_data import GLOBAL_BATCH, STEPS, data, model_kwargs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def _ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_one_model(tmp_path):
    ports = ",".join(map(str, _ports(2)))
    env = {**os.environ, "PYTHONPATH": ROOT}
    outs = [str(tmp_path / f"worker{i}.npz") for i in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests", "mwms_worker.py"), str(i), ports, outs[i]],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output[-3000:]
    first, second = (dict(np.load(o)) for o in outs)

    model = BiasedMF(**model_kwargs())
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.5))
    dataset = tf.data.Dataset.from_tensor_slices(data()).batch(GLOBAL_BATCH)
    model.fit(dataset, epochs=1, steps_per_epoch=STEPS, verbose=0)
    reference = {k: v.numpy() for k, v in named_weights(model).items()}

    assert sorted(first) == sorted(second) == sorted(reference)
    for name, value in reference.items():
        np.testing.assert_allclose(first[name], second[name], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(first[name], value, rtol=1e-5, atol=1e-6)


def test_strategy_names_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="got 'horovod'"):
        distribute.make_strategy("horovod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        distribute.make_strategy("multi_worker_mirrored")
    assert distribute.is_chief()
    monkeypatch.setenv(
        "TF_CONFIG", '{"cluster": {"worker": ["a", "b"]}, "task": {"type": "worker", "index": 1}}'
    )
    assert not distribute.is_chief()
