"""Items' content held once per item: Transform's output, and the Trainer putting it back."""

import collections

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch.data import examples, splits
from recsearch.features import FeatureSpec
from recsearch.modules import preprocessing, training_data
from recsearch.testing import staging

pytestmark = pytest.mark.slow


def _read(transformed, split, spec, content=None, batch_size=64):
    tft_output = tft.TFTransformOutput(transformed.transform_graph)
    data = training_data.make_dataset(
        transformed.files("transformed", split),
        staging.data_accessor(transformed.transformed_dir),
        tft_output,
        batch_size=batch_size,
        shuffle=False,
        spec=spec,
        content=content,
    )
    return tft_output, list(data.as_numpy_iterator())


def test_interactions_store_no_content_and_get_their_items_content(transformed):
    spec = FeatureSpec.from_config(transformed.config)
    assert spec.content_features() == ("item__title", "item__description", keys.IMAGE)
    # Transform wrote text and pixels on catalog rows only: the interactions' are empty.
    raw = tf.data.TFRecordDataset(
        tf.io.gfile.glob(transformed.files("transformed", "train")[0]), compression_type="GZIP"
    )
    for record in raw.take(50):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        for name in spec.content_features():
            assert len(feature[name].int64_list.value) == 0, name

    tft_output, catalog_batches = _read(transformed, "catalog", spec, training_data.OWN)
    _, train_batches = _read(transformed, "train", spec)
    assert all(name not in train_batches[0] for name in spec.content_features())
    catalog = training_data.build_catalog(train_batches, tft_output, spec, catalog_batches)
    content = training_data.ItemContent.of(catalog, spec)
    _, attached = _read(transformed, "train", spec, content)

    # Each interaction gets its item's catalog row: tokens and pixels as Transform wrote them.
    own = {}
    for batch in catalog_batches:
        for row, key in enumerate(batch[keys.ITEM_KEY]):
            own[key.decode()] = {name: batch[name][row] for name in spec.content_features()}
    checked = 0
    for batch in attached[:3]:
        assert batch[keys.IMAGE].shape[1:] == (spec.image_size, spec.image_size, 3)
        assert batch[keys.IMAGE].dtype == np.int64
        for row, key in enumerate(batch[keys.ITEM_KEY]):
            for name in spec.content_features():
                np.testing.assert_array_equal(batch[name][row], own[key.decode()][name])
            checked += 1
    assert checked > 100
    # Real content, not zeros: titles have tokens and images pixels.
    assert (attached[0]["item__title"] > 0).any(axis=1).all()
    assert (attached[0][keys.IMAGE] > 0).any(axis=(1, 2, 3)).all()


def test_an_item_without_a_catalog_row_gets_zeros():
    catalog_ids = np.array(["a", "b"], dtype=object)
    tokens = np.array([[3, 4], [5, 0]], np.int64)
    content = training_data.ItemContent(
        catalog_ids, {"item__title": np.concatenate([tokens, [[0, 0]]])}, {"item__title": np.int64}
    )
    data = tf.data.Dataset.from_tensors({keys.ITEM_KEY: tf.constant([b"b", b"zz", b"a"])})
    (batch,) = list(content.put_on(data).as_numpy_iterator())
    np.testing.assert_array_equal(batch["item__title"], [[5, 0], [0, 0], [3, 4]])


def test_the_token_vocabulary_counts_each_items_text_once(transformed):
    """Learnt from the catalog's rows, so its order follows counts over items, not interactions."""
    spec = FeatureSpec.from_config(transformed.config)
    tft_output = tft.TFTransformOutput(transformed.transform_graph)
    vocabulary = [v.decode() for v in tft_output.vocabulary_by_name(keys.TEXT_VOCAB)]
    found = examples.read_catalog(transformed.raw_dir, list(spec.item_text))
    per_item = collections.Counter()
    for name in spec.item_text:
        tokens = preprocessing.tokenize(tf.constant(found[name]), spec.text_max_tokens)
        per_item.update(t.decode() for t in tokens.flat_values.numpy())
    assert set(vocabulary) == set(per_item)
    counts = [per_item[token] for token in vocabulary]
    assert counts == sorted(counts, reverse=True)
    # Counted over interactions (each item's words once per interaction) the order differs.
    analyzed = [s for s in splits.analyzed_splits(transformed.config) if s != "catalog"]
    seen = collections.Counter()
    for split in analyzed:  # train, and with a refit the held-out rows
        seen.update(examples.read_split(transformed.raw_dir, split)[keys.ITEM_ID])
    per_interaction = collections.Counter()
    for row, item in enumerate(found[keys.ITEM_ID]):
        for name in spec.item_text:
            tokens = preprocessing.tokenize(tf.constant([found[name][row]]), spec.text_max_tokens)
            for token in tokens.flat_values.numpy():
                per_interaction[token.decode()] += seen[item]
    weighted = [per_interaction[token] for token in vocabulary]
    assert weighted != sorted(weighted, reverse=True)
    # The other analyzers skip catalog rows: the item id vocabulary is the interactions'.
    trained = {v.decode() for v in tft_output.vocabulary_by_name("item_id")}
    assert trained == set(seen)


def test_dense_content_fills_rows_without_values():
    sparse = tf.SparseTensor([[1, 0], [1, 1]], tf.constant([7, 8], tf.int64), [3, 2])
    dense = preprocessing.dense_content({"t": sparse, "other": tf.constant([1, 2, 3])}, {"t": (4,)})
    np.testing.assert_array_equal(dense["t"], [[0, 0, 0, 0], [7, 8, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(dense["other"], [1, 2, 3])


def _batches(rows: int, size: int):
    ids = np.arange(rows, dtype=np.int64)
    for start in range(0, rows, size):
        part = ids[start : start + size]
        yield {
            keys.USER_ID: part,
            keys.ITEM_KEY: np.array([f"i{i}".encode() for i in part], dtype=object),
            "pixels": np.stack([np.full((2, 2), i) for i in part]),
        }


def test_kept_columns_pass_batches_through_and_keep_them_while_they_fit():
    kept = training_data.KeptColumns(_batches(10, 4), budget=10_000)
    assert [len(b[keys.USER_ID]) for b in kept] == [4, 4, 2]
    columns = kept.columns()
    np.testing.assert_array_equal(columns[keys.USER_ID], np.arange(10))
    assert columns[keys.ITEM_KEY][7] == b"i7"
    assert columns["pixels"].shape == (10, 2, 2) and columns["pixels"][9, 1, 1] == 9
    assert kept.columns() is None  # handed over once, not held twice
    # 4 rows: 32 bytes of ids, 32 + 4 * 64 counted for the strings, 128 of pixels.
    over = training_data.KeptColumns(_batches(10, 4), budget=4 * 8 + 4 * 72 + 4 * 32 - 1)
    assert sum(len(b[keys.USER_ID]) for b in over) == 10  # every batch still passes
    assert over.columns() is None
    with pytest.raises(RuntimeError, match="before the batches were read"):
        training_data.KeptColumns(_batches(10, 4), budget=None).columns()


def test_column_dataset_takes_every_row_once_a_pass_in_a_new_order_each_pass():
    columns = training_data.read_columns(_batches(1000, 64))
    dataset = training_data.column_dataset(columns, seed=3)

    def passes(data, count):
        it = iter(data.repeat(count))
        return [
            np.concatenate([next(it)[keys.USER_ID] for _ in range(-(-1000 // 128))])
            for _ in range(count)
        ]

    plain = passes(dataset(128, shuffle=False), 1)[0]
    np.testing.assert_array_equal(plain, np.arange(1000))
    first, second = passes(dataset(128, shuffle=True), 2)
    for order in (first, second):
        np.testing.assert_array_equal(np.sort(order), np.arange(1000))
    assert not np.array_equal(first, second) and not np.array_equal(first, plain)
    # Each call starts from the seed: the same orders again.
    np.testing.assert_array_equal(passes(dataset(128, shuffle=True), 1)[0], first)
    batch = next(iter(dataset(128, shuffle=True)))
    assert batch[keys.USER_ID].shape == (128,)
    # Every column of a row is gathered together.
    np.testing.assert_array_equal(batch["pixels"].numpy()[:, 0, 0], batch[keys.USER_ID].numpy())
    assert batch[keys.ITEM_KEY].numpy()[0] == f"i{batch[keys.USER_ID].numpy()[0]}".encode()
    sizes = [len(b[keys.USER_ID]) for b in dataset(128, shuffle=True)]
    assert sizes == [128] * 7 + [104]
