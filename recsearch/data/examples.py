"""Reading ExampleGen's raw examples back: a split as a frame, the item catalog."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import tensorflow as tf

from recsearch import features as keys
from recsearch.data import splits


def split_files(examples_uri: str, split: str) -> list[str]:
    return tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))


def read_split(examples_uri: str, split: str, serialized: bool = False) -> pd.DataFrame:
    """user_id, item_id, timestamp (-1 without one) and rating (NaN without one) of one
    raw split, in file order.

    The ids are text (object columns), one str object per distinct id that
    every row of it shares: at 8M rows, about 130 MB for both columns rather
    than 1 GB of per-row strings (ReleaseGate and RunReport read the train split).
    With `serialized`, also each row's serialized tf.Example.
    """
    spec = {
        keys.USER_ID: tf.io.FixedLenFeature([], tf.string),
        keys.ITEM_ID: tf.io.FixedLenFeature([], tf.string),
        keys.TIMESTAMP: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
        keys.RATING: tf.io.FixedLenFeature([], tf.float32, default_value=float("nan")),
    }
    numeric = {keys.TIMESTAMP: np.int64, keys.RATING: np.float32}
    columns: dict[str, list] = {k: [] for k in spec}
    texts: dict[bytes, str] = {}
    records = []
    dataset = tf.data.TFRecordDataset(split_files(examples_uri, split), compression_type="GZIP")
    for batch in dataset.batch(8192):
        parsed = tf.io.parse_example(batch, spec)
        for name in spec:
            values = parsed[name].numpy()
            columns[name].append(values if name in numeric else _shared(values, texts))
        if serialized:
            records += list(batch.numpy())
    frame = pd.DataFrame(
        {
            k: np.concatenate(v) if v else np.zeros(0, numeric.get(k, object))
            for k, v in columns.items()
        }
    )
    if serialized:
        frame["serialized"] = records
    return frame


def _shared(values: np.ndarray, texts: dict[bytes, str]) -> np.ndarray:
    """Byte strings as text, each distinct value decoded once and shared by its rows."""
    codes, uniques = pd.factorize(values)
    decoded = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):
        text = texts.get(value)
        if text is None:
            text = texts[value] = value.decode()
        decoded[i] = text
    return decoded[codes]


def read_catalog(examples_uri: str, features: list[str]) -> dict[str, list]:
    """item_id and the named bytes features of the catalog split, as Python lists.

    Text is decoded; other bytes (images) are kept as bytes.
    """
    files = split_files(examples_uri, splits.CATALOG)
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
