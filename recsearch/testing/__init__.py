"""Test support, on the floor: tiny catalogs, raw examples, config writers, and `staging`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading

import tensorflow as tf

from recsearch import config as config_lib
from recsearch.config import update_config_file as write_config
from recsearch.features import FeatureSpec
from recsearch.testing.staging import (  # the tests' names for them
    data_accessor,
    fn_args,
    raw_schema,
    transform_sample,
    write_raw_examples,
)

# What a bundle of the sample shop answers (items with text and images).
# Short trainings for tests that check what a run does, not how good its model is.
LIGHT_MODEL = {"epochs": 3, "batch_size": 256, "embedding_dim": 16}

CONTENT_BUNDLE_SIGNATURES = {
    "recommend",
    "predict",
    "similar_items",
    "embed_items",
    "search_text",
    "search_image",
    "serving_default",
}
# The components of the default pipeline (no Tuner).
PIPELINE_COMPONENTS = {
    "RecsysExampleGen",
    "ServedModel",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "DataGate",
    "Transform",
    "Trainer",
    "Evaluator",
    "ReleaseGate",
    "Pusher",
    "RunReport",
}

__all__ = [
    "CONTENT_BUNDLE_SIGNATURES",
    "PIPELINE_COMPONENTS",
    "data_accessor",
    "fn_args",
    "raw_example",
    "raw_schema",
    "serving_on_loopback",
    "tiny_catalog",
    "transform_sample",
    "with_heldout",
    "write_config",
    "write_raw_examples",
]


def tiny_catalog(
    history: list[list[int]],
    recency: list[list[int]] | None = None,
    num_items: int = 0,
    ratings: list[list[float]] | None = None,
):
    """A Catalog of users 0..U-1 (no OOV rows): their distinct items, recency ranks, ratings."""
    import numpy as np

    from recsearch.modules.training_data import Catalog

    num_items = num_items or 1 + max(i for h in history for i in h)
    recency = recency or [list(range(len(h))) for h in history]
    splits_ = np.cumsum([0] + [len(h) for h in history]).astype(np.int64)
    flat = np.array([i for h in history for i in h], dtype=np.int64)
    return Catalog(
        num_users=len(history),
        num_items=num_items,
        user_vocab_size=len(history),
        item_vocab_size=num_items,
        item_ids=np.array([f"i{i}" for i in range(num_items)], dtype=object),
        item_index=np.arange(num_items),
        item_counts=np.bincount(flat, minlength=num_items),
        seen_row_splits=splits_,
        seen_items=flat,
        user_features={},
        item_features={},
        seen_recency=np.array([r for rs in recency for r in rs], dtype=np.int64),
        seen_ratings=None
        if ratings is None
        else np.array([r for rs in ratings for r in rs], dtype=np.float32),
    )


def raw_example(config: config_lib.PipelineConfig, user: str, item: str | bytes) -> bytes:
    """A serialized raw tf.Example for serving_default: the pair, every other column empty."""
    example = tf.train.Example()
    feature = example.features.feature
    feature["user_id"].bytes_list.value.append(user.encode())
    feature["item_id"].bytes_list.value.append(item if isinstance(item, bytes) else item.encode())
    skip = {"user_id", "item_id", "timestamp", "rating"}
    for name, kind in FeatureSpec.from_config(config).raw_types().items():
        if name in skip or kind == "int":
            continue
        if kind == "bytes":
            feature[name].bytes_list.value.append(b"")
        else:
            feature[name].float_list.value.append(0.0)
    feature["timestamp"].int64_list.value.append(0)
    return example.SerializeToString()


def with_heldout(transformed_dir: str, directory: str) -> str:
    """`directory`: the transformed splits linked, plus the eval split as `Split-heldout`.

    run_fn refits on train + held-out when the held-out split sits beside them, as
    the pipeline writes it.
    """
    os.makedirs(directory, exist_ok=True)
    for split, source in [("train",) * 2, ("eval",) * 2, ("catalog",) * 2, ("heldout", "eval")]:
        target = os.path.join(transformed_dir, f"Split-{source}")
        if os.path.isdir(target):
            os.symlink(target, os.path.join(directory, f"Split-{split}"))
    return directory


@contextlib.contextmanager
def serving_on_loopback(app):
    """Serves an aiohttp application on a free loopback port from a background thread.

    Yields its base URL ("http://127.0.0.1:<port>"); stops the loop on exit.
    """
    from aiohttp import web

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
