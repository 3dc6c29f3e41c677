"""PackedFrame: the blocks the runner groups are held as bytes, not as frames of strings."""

import pickle
import sys

import apache_beam as beam
import pandas as pd
from apache_beam import typehints

from recsearch.components.recsys_example_gen.beam_data import PackedFrame, _by_shard
from recsearch.data import tables


def test_a_block_survives_beams_coder_as_bytes_and_counts_its_rows(sample_config):
    frame = tables.load_interactions(sample_config)
    coder = beam.coders.registry.get_coder(typehints.Any)  # what the runner decodes with
    shard, packed = coder.decode(coder.encode((5, PackedFrame.of(frame))))
    assert shard == 5 and type(packed) is PackedFrame and len(packed) == len(frame)
    pd.testing.assert_frame_equal(packed.frame(), frame)
    # Decoded, the block is one bytes object: several times smaller than the frame's
    # Python strings (about 7x on the 1M shop's log).
    assert isinstance(packed.data, bytes)
    assert sys.getsizeof(packed.data) * 3 < frame.memory_usage(deep=True).sum()
    assert pickle.loads(pickle.dumps(packed)).frame().equals(frame)


def test_blocks_by_shard_hold_every_row_once(sample_config):
    frame = tables.load_interactions(sample_config).reset_index(drop=True)
    blocks = list(_by_shard(frame, frame["user_id"], 4))
    assert sum(len(p) for _, p in blocks) == len(frame)
    rebuilt = pd.concat([p.frame() for _, p in blocks]).sort_index()
    pd.testing.assert_frame_equal(rebuilt, frame)
    for shard, packed in blocks:  # a user's rows all in one shard
        users = set(packed.frame()["user_id"])
        assert not users & {u for s, p in blocks if s != shard for u in p.frame()["user_id"]}
