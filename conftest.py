"""Shared test fixtures: a small sample shop, and its examples run through a real Transform."""

from __future__ import annotations

import dataclasses
import os

import pytest

import recsearch  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

MOVIELENS_DIR = os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "shared", "datasets", "movielens-100k")
)
TINY_SAMPLE = dict(users=150, items=80, days=30, mean_sessions=4.0, seed=11)
COLD_ITEMS = [
    ("new-001", "Wireless speaker usb", "images/i0000.png"),
    ("new-002", "Portable bluetooth headphones", "images/i0001.png"),
]


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> str:
    """A tiny sample shop (CSV files, images, config.yaml) in a temp directory."""
    from recsearch.data import sample
    from recsearch.testing import LIGHT_MODEL, write_config

    directory = str(tmp_path_factory.mktemp("sample"))
    sample.write(directory, sample.SampleSpec(**TINY_SAMPLE))
    # Items added to the catalog after the last interaction: cold items.
    with open(os.path.join(directory, "items.csv"), "a", encoding="utf-8") as f:
        for name, title, png in COLD_ITEMS:
            f.write(f"{name},electronics,{title},{title} wireless charger cable,19.5,{png}\n")
    write_config(
        directory,
        {
            "model": LIGHT_MODEL,
            "serving": {"index": "scann", "ann_leaves": 4, "ann_leaves_to_search": 4},
        },
    )
    return directory


@pytest.fixture(scope="session")
def sample_config(sample_dir):
    from recsearch.config import load_config

    return load_config(os.path.join(sample_dir, "config.yaml"))


@dataclasses.dataclass
class TransformedData:
    """Examples of the tiny shop after a real Transform run."""

    config: object
    raw_dir: str
    transform_graph: str
    transformed_dir: str

    def files(self, kind: str, split: str) -> list[str]:
        base = self.raw_dir if kind == "raw" else self.transformed_dir
        return [os.path.join(base, f"Split-{split}", "*")]


@pytest.fixture(scope="session")
def transformed(tmp_path_factory, sample_config) -> TransformedData:
    """Runs the real preprocessing_fn with tf.Transform on the tiny shop's splits."""
    from recsearch.testing import transform_sample

    root = str(tmp_path_factory.mktemp("transformed"))
    raw_dir, graph, out = transform_sample(sample_config, root)
    return TransformedData(sample_config, raw_dir, graph, out)


@dataclasses.dataclass
class TrainedBundle:
    """A model trained by run_fn on the tiny shop, pushed as version 1 of a base directory."""

    base_dir: str
    version_dir: str
    run_dir: str
    transformed: TransformedData


@pytest.fixture(scope="session")
def trained_bundle(transformed, tmp_path_factory) -> TrainedBundle:
    from recsearch import testing
    from recsearch.modules import trainer

    root = tmp_path_factory.mktemp("trained")
    base_dir = os.path.join(str(root), "serving", "shop")
    version_dir, run_dir = os.path.join(base_dir, "1"), str(root / "run")
    args = testing.fn_args(
        transformed.config,
        transformed.transformed_dir,
        transformed.transform_graph,
        version_dir,
        run_dir,
    )
    trainer.run_fn(args)
    return TrainedBundle(base_dir, version_dir, run_dir, transformed)
