"""Warm start: rows carried over by token, new tokens fresh, OOV rows kept."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules import warm_start
from recsearch.modules.models.towers import FeatureTower


def test_remap_rows_by_hand():
    old = np.arange(5 * 2, dtype=np.float32).reshape(5, 2)  # a, b, c + 2 OOV rows
    new = -np.ones((5, 2), dtype=np.float32)  # c, d, a + 2 OOV rows
    table, carried, fresh = warm_start.remap_rows(old, new, ["a", "b", "c"], ["c", "d", "a"])
    np.testing.assert_array_equal(table[0], old[2])  # c
    np.testing.assert_array_equal(table[1], new[1])  # d is new
    np.testing.assert_array_equal(table[2], old[0])  # a
    np.testing.assert_array_equal(table[3:], old[3:])  # OOV rows
    assert (carried, fresh) == (2, 1)


def test_remap_keeps_the_padding_row_of_text_tokens():
    old = np.arange(4 * 2, dtype=np.float32).reshape(4, 2)  # pad, x, y, OOV
    new = np.zeros((4, 2), dtype=np.float32)  # pad, y, z, OOV
    table, carried, _ = warm_start.remap_rows(old, new, ["x", "y"], ["y", "z"], offset=1)
    np.testing.assert_array_equal(table[0], old[0])
    np.testing.assert_array_equal(table[1], old[2])
    np.testing.assert_array_equal(table[3], old[3])
    assert carried == 1


def test_remap_rejects_other_widths():
    with pytest.raises(ValueError, match="widths differ"):
        warm_start.remap_rows(np.zeros((3, 2)), np.zeros((3, 4)), ["a"], ["a"])


def test_apply_through_a_saved_bundle(tmp_path):
    def model(vocab_size):
        module = tf.Module()
        module.item_tower = FeatureTower("item_id", {"item_id": vocab_size + 1}, output_dim=3)
        module.item_tower({"item_id": tf.constant([0])})
        return module

    old = model(3)
    bundle = tmp_path / "bundle"
    (bundle / "assets").mkdir(parents=True)
    (bundle / "assets" / "item_id").write_text("a\nb\nc\n")
    warm_start.save(old, str(bundle))
    new = model(2)
    report = warm_start.apply(new, str(bundle), {"item_id": ["c", "z"]}.get)
    path = "item_tower/embeddings/item_id/embeddings"
    assert report["tables"][path] == {"carried": 1, "new": 1, "carried_max_abs_difference": 0.0}
    old_table = warm_start.named_weights(old)[path].numpy()
    new_table = warm_start.named_weights(new)[path].numpy()
    np.testing.assert_array_equal(new_table[0], old_table[2])
    np.testing.assert_array_equal(new_table[2], old_table[3])


def test_a_served_model_without_weights_is_a_cold_start(tmp_path):
    module = tf.Module()
    module.item_tower = FeatureTower("item_id", {"item_id": 4}, output_dim=3)
    module.item_tower({"item_id": tf.constant([0])})
    before = {n: v.numpy().copy() for n, v in warm_start.named_weights(module).items()}
    report = warm_start.apply(module, str(tmp_path), {"item_id": ["a"]}.get)  # EASE kept none
    assert report == {
        "tables": {},
        "copied": [],
        "skipped": ["the served model keeps no trained weights: a cold start"],
    }
    for name, variable in warm_start.named_weights(module).items():
        np.testing.assert_array_equal(variable.numpy(), before[name])
