"""Reading ExampleGen's raw examples back: the item catalog split."""

from __future__ import annotations

import os

import tensorflow as tf

from recsearch.data import splits
from recsearch.modules import features as keys


def read_catalog(examples_uri: str, features: list[str]) -> dict[str, list]:
    """item_id and the named bytes features of the catalog split, as Python lists.

    Text is decoded; other bytes (images) are kept as bytes.
    """
    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{splits.CATALOG}", "*"))
    spec = {
        name: tf.io.FixedLenFeature([], tf.string, default_value=b"")
        for name in [keys.ITEM_ID, *features]
    }
    columns: dict[str, list] = {name: [] for name in spec}
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096):
        parsed = tf.io.parse_example(batch, spec)
        for name in spec:
            columns[name] += list(parsed[name].numpy())
    for name in columns:
        if name != keys.IMAGE:
            columns[name] = [v.decode("utf-8", "replace") for v in columns[name]]
    return columns


def item_titles(examples_uri: str, title_feature: str) -> dict[str, str]:
    """item_id -> title, from the catalog split's `title_feature` (empty titles left out)."""
    found = read_catalog(examples_uri, [title_feature])
    return {i: t for i, t in zip(found[keys.ITEM_ID], found[title_feature]) if t}
