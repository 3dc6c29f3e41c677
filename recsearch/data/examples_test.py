"""Reading ExampleGen's splits back: rows in file order, ids shared per distinct value."""

import os

import numpy as np
import pandas as pd
import tensorflow as tf

from recsearch.data import examples

ROWS = [  # user, item, timestamp, rating (None: the feature is absent)
    ("u1", "i1", 10, 4.0),
    ("ü2", "i2", 11, None),
    ("u1", "i2", None, 2.5),
    ("u3", "i1", 13, 5.0),
    ("u1", "i3", 14, 1.0),
]


def _write_split(uri, split, rows, per_file):
    directory = os.path.join(uri, f"Split-{split}")
    os.makedirs(directory)
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for part, start in enumerate(range(0, len(rows), per_file)):
        path = os.path.join(directory, f"part-{part:05d}.tfrecord.gz")
        with tf.io.TFRecordWriter(path, options) as writer:
            for user, item, time, rating in rows[start : start + per_file]:
                feature = {"user_id": _bytes(user), "item_id": _bytes(item)}
                if rating is not None:
                    feature["rating"] = tf.train.Feature(
                        float_list=tf.train.FloatList(value=[rating])
                    )
                if time is not None:
                    feature["timestamp"] = tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[time])
                    )
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                writer.write(example.SerializeToString())


def _bytes(text):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))


def test_read_split_gives_text_ids_and_times_in_file_order(tmp_path):
    _write_split(str(tmp_path), "train", ROWS, per_file=3)
    frame = examples.read_split(str(tmp_path), "train")
    expected = pd.DataFrame(
        {
            "user_id": [r[0] for r in ROWS],
            "item_id": [r[1] for r in ROWS],
            "timestamp": [-1 if r[2] is None else r[2] for r in ROWS],
            "rating": np.array([np.nan if r[3] is None else r[3] for r in ROWS], np.float32),
        }
    )
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["user_id"].dtype == object and isinstance(frame["user_id"][1], str)
    # Every row of an id holds the same str object, across batches and files.
    users = frame["user_id"].to_numpy()
    assert users[0] is users[2] is users[4]
    assert frame["item_id"][1] is frame["item_id"][2]

    serialized = examples.read_split(str(tmp_path), "train", serialized=True)
    parsed = [tf.train.Example.FromString(r) for r in serialized["serialized"]]
    assert [p.features.feature["user_id"].bytes_list.value[0].decode() for p in parsed] == list(
        expected["user_id"]
    )


def test_read_split_of_an_empty_split(tmp_path):
    os.makedirs(tmp_path / "Split-eval")
    frame = examples.read_split(str(tmp_path), "eval")
    assert list(frame.columns) == ["user_id", "item_id", "timestamp", "rating"] and frame.empty
    assert frame["timestamp"].dtype == np.int64 and frame["rating"].dtype == np.float32
