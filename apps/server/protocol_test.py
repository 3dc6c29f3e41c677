"""TF Serving's metadata answer for specs of every rank, without a model."""

import tensorflow as tf

from recsearch.apps.server import protocol
from recsearch.apps.server.models import Signature


def test_metadata_reports_known_and_unknown_shapes():
    signature = Signature(
        inputs={"user_id": tf.TensorSpec([None], tf.string, name="user_id")},
        outputs={
            "scores": tf.TensorSpec([None, 10], tf.float32, name="scores"),
            "anything": tf.TensorSpec(None, tf.int64, name="anything"),
        },
        function=None,
    )
    answer = protocol.metadata("shop", 3, {"recommend": signature})
    assert answer["model_spec"] == {"name": "shop", "signature_name": "", "version": "3"}
    sig = answer["metadata"]["signature_def"]["signature_def"]["recommend"]
    assert sig["inputs"]["user_id"]["tensor_shape"] == {
        "dim": [{"size": "-1"}],
        "unknown_rank": False,
    }
    assert sig["outputs"]["scores"]["tensor_shape"]["dim"] == [{"size": "-1"}, {"size": "10"}]
    assert sig["outputs"]["anything"] == {
        "dtype": "DT_INT64",
        "tensor_shape": {"dim": [], "unknown_rank": True},
        "name": "anything",
    }
