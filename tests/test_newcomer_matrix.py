"""A newcomer's own data: every optional part of the config, on small generated logs.

The combinations cover each value of each dimension at least once (rating on
all, some or no rows; with or without a timestamp; an items table with items
absent from the log and items only in users' newest rows; a users table that
lacks users; empty text, image, numeric and categorical cells; int, str,
unicode and padded ids; duplicate events; every task), in four runs to keep
the suite within its budget. The first runs the whole pipeline; the others run the
data steps (ExampleGen, StatisticsGen, SchemaGen, ExampleValidator,
DataGate, Transform) and the Trainer with its export, where the Evaluator and
the release steps add nothing that the first does not cover.

Each must show: the run finishes, the exported bundle answers `recommend` for
every user of the log (`predict` for the rating task) with finite scores, and
no served top-K holds an item the user interacted with anywhere in the log.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from recsearch.apps import local
from recsearch.config import load_config
from tests import newcomer_data
from tests.newcomer_data import Log

pytestmark = pytest.mark.slow

WHOLE_PIPELINE = Log(rating="all", timestamp=True, items=True, users=True, ids="str")
DATA_AND_TRAINER = [
    Log(task="rating", rating="some", ids="padded", empty_cells=True, weight=True),
    Log(
        task="ranking",
        rating="none",
        timestamp=False,
        ids="int",
        duplicates=True,
        empty_cells=True,
        content=True,
        weight=True,
    ),
    Log(task="sequential", rating="some", ids="unicode", items=False, users=False, duplicates=True),
]


def _log_pairs(directory: str, task: str) -> dict[str, set[str]]:
    """Each user's items in the log (rating task: only rated rows count)."""
    log = pd.read_csv(os.path.join(directory, "log.csv"), dtype=str, keep_default_na=False)
    if task == "rating":
        log = log[log["stars"] != ""]
    log["user"], log["item"] = log["user"].str.strip(), log["item"].str.strip()
    return log.groupby("user")["item"].agg(set).to_dict()


def _check_bundle(bundle_dir: str, config, seen: dict[str, set[str]]) -> None:
    model = tf.saved_model.load(bundle_dir)
    users = sorted(seen)
    if config.task == "rating":
        user, item = users[0], sorted(seen[users[0]])[0]
        score = model.signatures["predict"](
            user_id=tf.constant([user]), item_id=tf.constant([item])
        )
        assert np.isfinite(score["scores"].numpy()).all()
    out = model.signatures["recommend"](user_id=tf.constant(users))
    items = out["item_ids"].numpy()
    assert items.shape == (len(users), config.serving.top_k)
    assert np.isfinite(out["scores"].numpy()).all()
    for user, row in zip(users, items):
        served = {v.decode() for v in row}
        assert not served & seen[user], f"{user} is served items of their own log"


def _partial_run(config, output: str) -> str:
    """Runs the data steps and the Trainer with LocalDagRunner; returns the exported bundle."""
    paths = local.LocalPaths.under(output, config.name)
    local.run_dag(local.local_pipeline(config, paths, train_only=True))
    refit = glob.glob(os.path.join(paths.pipeline_root, "Trainer", "model", "*", "Format-Refit"))
    assert refit, "the Trainer exported no refit bundle"
    return refit[0]


def test_whole_pipeline_on_a_log_with_ratings_on_every_row(tmp_path):
    """The case that crashed Transform: a rating on every event, catalog items without one."""
    path = newcomer_data.write(str(tmp_path / "data"), WHOLE_PIPELINE)
    config = load_config(path)
    assert config.split.method == "temporal"
    summary = local.run(config, str(tmp_path / "out"), quiet=True)
    assert summary.blessed, summary.reasons
    assert summary.pushed_to
    assert "refit on the whole log" in summary.served_data
    popularity = [c for c in summary.checks if c["name"] == "popularity"]
    assert popularity and "recall@10" in popularity[0]["figures"]["popularity"]
    _check_bundle(summary.pushed_to, config, _log_pairs(str(tmp_path / "data"), config.task))


@pytest.mark.parametrize("log", DATA_AND_TRAINER, ids=lambda log: log.name)
def test_data_steps_and_trainer(log, tmp_path):
    path = newcomer_data.write(str(tmp_path / "data"), log)
    config = load_config(path)
    assert config.split.method == ("temporal" if log.timestamp else "random")
    local.check_data(config)
    bundle_dir = _partial_run(config, str(tmp_path / "out"))
    _check_bundle(bundle_dir, config, _log_pairs(str(tmp_path / "data"), config.task))
