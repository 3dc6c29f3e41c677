"""Bad configs of a newcomer's log: `recsearch validate` names every mistake at once.

Each case holds several mistakes, of the config and of the data, and lists
the words that must name each of them; the run exits 2 and writes nothing.
"""

from __future__ import annotations

import os

import pytest
import yaml

from recsearch.apps import cli
from recsearch.config import load_config
from recsearch.data import splits, tables
from tests import newcomer_data
from tests.newcomer_data import Log

CASES = {
    "typos in keys and a misspelled column": (
        {
            "interactions": {"item": "itm", "timestamp": "time"},
            "modle": {"epochs": 2},
            "split": {"eval_fraction": 1.5},
        },
        [
            "unknown key 'modle'",
            "'split.eval_fraction' must be between 0 and 1",
            "column 'itm': unknown column",
            "column 'time': unknown column",
        ],
    ),
    "wrong types and values everywhere": (
        {
            "task": "rating",
            "model": {"epochs": "ten", "embedding_dim": -4, "name": "ease"},
            "serving": {"top_k": 0},
            "evaluation": {"metric": "recall"},
        },
        [
            "'model.epochs' must be an integer",
            "'model.embedding_dim' must be positive",
            "'serving.top_k' must be positive",
            "'model.name' 'ease' does not fit task 'rating'",
            "'evaluation.metric' 'recall' does not fit task 'rating'",
        ],
    ),
    "side tables with missing columns and files": (
        {
            "items": {"path": "items.csv", "id": "sku", "categorical": ["colour"]},
            "users": {"path": "no-such-users.csv", "id": "user_id"},
        },
        [
            "column 'sku': unknown column",
            "column 'colour': unknown column",
            "no-such-users.csv: no file matches this path",
        ],
    ),
}


def _write(tmp_path, overrides: dict) -> str:
    path = newcomer_data.write(str(tmp_path / "data"), Log())
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(raw, f)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_validate_names_every_mistake(case, tmp_path, capsys):
    overrides, expected = CASES[case]
    path = _write(tmp_path, overrides)
    output = tmp_path / "out"
    assert cli.main(["validate", "--config", path]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for words in expected:
        assert words in err, f"{case}: {words!r} not reported in:\n{err}"
    assert f"{len(expected)} problems" in err
    assert cli.main(["run", "--config", path, "--output", str(output)]) == 2
    assert not output.exists()


def test_bad_values_in_two_columns_are_both_reported(tmp_path, capsys):
    path = newcomer_data.write(str(tmp_path / "data"), Log())
    log = os.path.join(os.path.dirname(path), "log.csv")
    with open(log, encoding="utf-8") as f:
        lines = f.read().splitlines()
    header, first, second = lines[0], lines[3].split(","), lines[5].split(",")
    first[2], second[3] = "five", "yesterday-ish"
    lines[3], lines[5] = ",".join(first), ",".join(second)
    with open(log, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    assert header == "user,item,stars,ts"
    assert cli.main(["validate", "--config", path]) == 2
    err = capsys.readouterr().err
    assert "column 'stars', row 3: expected a number, got 'five'" in err
    assert "column 'ts', row 5: expected unix seconds, unix milliseconds or an ISO 8601" in err


def test_validate_tells_the_story_of_the_data(tmp_path, capsys):
    path = newcomer_data.write(str(tmp_path / "data"), Log())
    assert cli.main(["validate", "--config", path]) == 0
    out = capsys.readouterr().out
    # The generator: 60 users, 36 logged items of 40 in the items table.
    assert "interactions of 60 users with 36 items" in out
    assert "items table: 40 items, 4 of them never in the log" in out
    assert "from 2023-11-14" in out and "UTC" in out
    assert "split temporal: each user's latest 20% held out" in out
    assert "held-out rows are scored;" in out and "name items never in train" in out
    assert "model auto will compare ease (recency_half_life 10), two_tower" in out


def test_validate_counts_the_eval_sample_the_evaluator_judges(tmp_path, capsys):
    path = newcomer_data.write(str(tmp_path / "data"), Log())
    with open(path, "a") as f:
        f.write("evaluation: {max_users: 7}\n")
    assert cli.main(["validate", "--config", path]) == 0
    out = capsys.readouterr().out
    config = load_config(path)
    frame, _ = tables.load_all(config)
    scored = splits.split_interactions(frame, config.split, config.task)["eval"]
    judged = splits.sample_users(scored, 7)
    assert judged["user_id"].nunique() == 7 < scored["user_id"].nunique()
    assert f"{len(judged)} eval rows" in out
    assert (
        f"the Evaluator judges a fixed sample of 7 of the {scored['user_id'].nunique()} "
        f"scored users ({len(judged)} rows; evaluation.max_users)" in out
    )
