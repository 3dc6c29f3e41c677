"""One worker of the MultiWorkerMirroredStrategy test (run by tests/test_distributed.py).

    python tests/mwms_worker.py INDEX PORT0,PORT1 OUT.npz

Each worker trains the project's BiasedMF under `make_strategy("multi_worker_mirrored")`
for a few steps on the shared dataset (auto-sharded: each worker sees other rows)
and saves its final weights.
"""

import json
import os
import sys

import numpy as np

index, ports, out = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
os.environ["TF_CONFIG"] = json.dumps(
    {
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    }
)

import tensorflow as tf  # noqa: E402

import recsearch  # noqa: E402,F401
from recsearch.modules.distribute import make_strategy  # noqa: E402
from recsearch.modules.models.mf import BiasedMF  # noqa: E402
from recsearch.modules.warm_start import named_weights  # noqa: E402
from tests.distributed_data import GLOBAL_BATCH, STEPS, data, model_kwargs  # noqa: E402

strategy = make_strategy("multi_worker_mirrored")
with strategy.scope():
    model = BiasedMF(**model_kwargs())
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.5))
dataset = tf.data.Dataset.from_tensor_slices(data()).batch(GLOBAL_BATCH)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
model.fit(dataset.with_options(options), epochs=1, steps_per_epoch=STEPS, verbose=0)
np.savez(out, **{k: v.numpy() for k, v in named_weights(model).items()})
