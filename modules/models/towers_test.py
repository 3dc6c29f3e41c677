"""FeatureTower: shapes, plain-embedding mode, config round trip, strict arguments."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models.encoders import TextEncoder
from recsearch.modules.models.towers import FeatureTower


def _features():
    return {
        "item_id": tf.constant([0, 3]),
        "item__category": tf.constant([1, 2]),
        "item__price": tf.constant([0.5, -1.0]),
        "item__title": tf.constant([[3, 4, 0], [0, 0, 0]], tf.int64),
    }


def test_side_feature_tower_output_is_normalised():
    tower = FeatureTower(
        "item_id",
        {"item_id": 5, "item__category": 4},
        numeric=["item__price"],
        text=["item__title"],
        text_encoder=TextEncoder(vocab_size=6, dim=4),
        output_dim=8,
        hidden_layers=[16],
        normalize=True,
    )
    out = tower(_features()).numpy()
    assert out.shape == (2, 8)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    assert not tower.is_plain_embedding


def test_id_only_tower_is_an_embedding_lookup():
    tower = FeatureTower("item_id", {"item_id": 5}, output_dim=4)
    out = tower(_features())
    table = tower.embeddings["item_id"].embeddings.numpy()
    np.testing.assert_allclose(out.numpy(), table[[0, 3]])


def test_config_round_trip():
    tower = FeatureTower("item_id", {"item_id": 5, "item__category": 4}, output_dim=4, l2=0.1)
    clone = FeatureTower.from_config(tower.get_config())
    assert clone.get_config() == tower.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(id_feature="user_id", cardinalities={"item_id": 5}), "'user_id' is not in"),
        (dict(id_feature="item_id", cardinalities={"item_id": 0}), "got 0"),
        (dict(id_feature="item_id", cardinalities={"item_id": 5}, output_dim=-1), "got -1"),
        (
            dict(id_feature="item_id", cardinalities={"item_id": 5}, text=["t"]),
            r"text features \['t'\] need a text_encoder",
        ),
    ],
)
def test_bad_arguments_show_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeatureTower(**kwargs)
