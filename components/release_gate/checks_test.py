"""Release gate checks on a real trained bundle and hand-made data."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from recsearch.components.release_gate import checks
from recsearch.modules.models import bias

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def view(trained_bundle):
    return checks.BundleView.load(trained_bundle.version_dir)


def test_catalog_check_against_itself_passes_and_reports(view):
    users = [f"u{i:05d}" for i in range(40)]
    result = checks.catalog_check(view, view, users, checks.GateConfig())
    assert result.passed, result.detail
    assert result.figures["coverage"] == pytest.approx(result.figures["baseline_coverage"])
    assert 0 < result.figures["coverage"] <= 1
    strict = checks.catalog_check(view, None, users, checks.GateConfig(min_coverage=1.01))
    assert not strict.passed and "is below 1.01" in strict.detail


def test_data_check_finds_time_leakage_and_unknown_users(view):
    train = pd.DataFrame(
        {"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"], "timestamp": [1, 5, 2]}
    )
    held = pd.DataFrame({"user_id": ["a", "c"], "item_id": ["z", "x"], "timestamp": [3, 9]})
    config = checks.GateConfig(max_unknown_user_rate=0.25)
    result = checks.data_check(train, held, view, view, config)
    assert not result.passed
    assert "1 users have eval interactions older than their training ones" in result.detail
    assert (
        "50.0% of eval users are unknown (limit 25.0%; release.max_unknown_user_rate)"
        in result.detail
    )
    assert result.figures["popularity_shift"] == pytest.approx(0.0)
    random_split = checks.GateConfig(temporal=False)
    assert checks.data_check(train, held, view, None, random_split).passed


def test_serving_check_runs_in_a_fresh_process(trained_bundle):
    probe = checks.start_probe(trained_bundle.version_dir, ["u00001", "u00002"], "i0001")
    ok = checks.serving_check(probe, checks.GateConfig())
    assert "(1 round)" in ok.detail and ok.figures["latency_ms"]["rounds"][0]["calls"] == 200
    assert ok.passed, ok.detail
    assert set(ok.figures["cases"]) == {
        "recommend known user",
        "recommend unknown user",
        "recommend empty batch",
        "predict known and cold item",
        "similar_items known and cold item",
        "embed_items known and cold item",
        "search_text",
        "search_image",
    }
    slow = checks.serving_check(
        checks.start_probe(trained_bundle.version_dir, "u00001", "i0001"),
        checks.GateConfig(latency_budget_ms=1e-6),
    )
    assert not slow.passed and "exceeds 1e-06 ms (2 rounds, the better one" in slow.detail
    assert len(slow.figures["latency_ms"]["rounds"]) == 2


def test_serving_check_fails_on_a_broken_bundle(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"not a graph")
    result = checks.serving_check(checks.start_probe(str(tmp_path), "u", "i"), checks.GateConfig())
    assert not result.passed
    assert "failed in a fresh process" in result.detail


def test_popularity_is_scored_by_hand_on_the_same_split():
    # Popularity order a (5), b (3), c (3, after b by position), d (1).
    item_ids = ["a", "b", "c", "d"]
    counts = pd.Series([5.0, 3.0, 3.0, 1.0]).to_numpy()
    train = pd.DataFrame({"user_id": ["u1"], "item_id": ["a"]})
    held = pd.DataFrame({"user_id": ["u1", "u2", "u2"], "item_id": ["c", "d", "b"]})
    ranks = checks.popularity_ranks(train, held, item_ids, counts)
    # u1 has seen a, so c moves up to rank 1; u2 has seen nothing: d 3, b 1.
    assert sorted(sorted(r.tolist()) for r in ranks) == [[1], [1, 3]]
    view = checks.BundleView(pd.Series(item_ids).to_numpy(), counts, recommend=None)
    result = checks.popularity_check(
        train, held, view, {"recall@2": 0.5}, checks.GateConfig(top_k=2)
    )
    # recall@2: u1 1/1, u2 1/min(2, 2): mean 0.75; the candidate's 0.5 is 0.67x.
    assert result.passed
    assert result.figures["popularity"]["recall@2"] == pytest.approx(0.75)
    assert "recall@2 0.7500 (candidate 0.5000, 0.67x)" in result.detail
    ratings = checks.popularity_check(train, held, view, {"rmse": 0.9}, checks.GateConfig())
    assert ratings.detail == "not comparable for this task"


def test_sample_users_bounds_the_per_user_checks():
    import pandas as pd

    evaluation = pd.DataFrame(
        {"user_id": [f"u{i % 50}" for i in range(200)], "item_id": ["i"] * 200}
    )
    users, rows = checks.sample_users(evaluation, 100)
    assert len(users) == 50 and len(rows) == 200  # under the limit: everything
    users, rows = checks.sample_users(evaluation, 10)
    assert len(users) == 10 and users == sorted(users)
    assert set(rows["user_id"]) == set(users) and len(rows) == 40
    assert checks.sample_users(evaluation, 10)[0] == users  # seeded: the same sample


def test_the_bias_baseline_stands_beside_a_rating_model_by_hand():
    # Train: a rates x 5 and y 3, b rates x 4. Eval: b rates y 2, c (unknown) rates x 5.
    train = pd.DataFrame(
        {"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"], "rating": [5.0, 3.0, 4.0]}
    )
    held = pd.DataFrame({"user_id": ["b", "c"], "item_id": ["y", "x"], "rating": [2.0, 5.0]})
    fitted = bias.fit_biases(
        np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([5.0, 3.0, 4.0]), 2, 2, l2=10.0
    )
    predicted = np.array(
        [fitted.mean + fitted.users[1] + fitted.items[1], fitted.mean + fitted.items[0]]
    )
    rmse = float(np.sqrt(np.mean((predicted - [2.0, 5.0]) ** 2)))
    metrics = {"root_mean_squared_error": rmse - 0.1, "mean_absolute_error": 9.0}
    result = checks.popularity_check(train, held, None, metrics, checks.GateConfig())
    assert result.name == "baseline" and result.passed
    figures = result.figures["bias_baseline"]
    assert figures["root_mean_squared_error"] == pytest.approx(rmse, rel=1e-6)
    assert f"rmse {rmse:.4f} (candidate {rmse - 0.1:.4f}, better)" in result.detail
    assert "(candidate 9.0000, worse)" in result.detail
    label, scores = checks.reference_scores([dataclasses.asdict(result)])
    assert label == "bias" and scores == figures


def test_the_bundle_size_is_every_file_under_it(tmp_path):
    (tmp_path / "variables").mkdir()
    (tmp_path / "saved_model.pb").write_bytes(b"x" * 400_000)
    (tmp_path / "variables" / "variables.data").write_bytes(b"x" * 700_000)
    assert checks.directory_bytes(str(tmp_path)) == 1_100_000
    fits = checks.size_check(str(tmp_path), checks.GateConfig(max_bundle_mb=1.2))
    assert fits.passed and fits.figures["bundle_mb"] == pytest.approx(1.1)
    big = checks.size_check(str(tmp_path), checks.GateConfig(max_bundle_mb=1.0))
    assert not big.passed
    assert big.detail == "the bundle is 1.1 MB, above 1 MB (release.max_bundle_mb)"
    assert checks.size_check(str(tmp_path), checks.GateConfig(max_bundle_mb=None)).passed


def test_comparison_passes_the_same_model_and_refuses_a_clearly_worse_one(view):
    import tensorflow as tf

    users = [f"u{i:05d}" for i in range(1, 121)]
    top = view.top_k(users, 10)
    # Each user's eval items: two of what the model recommends and one it does not.
    evaluation = pd.DataFrame(
        [
            {"user_id": user, "item_id": item.decode()}
            for user, row in zip(users, top)
            for item in (row[0], row[4], b"i9999")
        ]
    )
    config = checks.GateConfig(metric="recall", tolerance=0.02, confidence=0.95)
    same = checks.comparison_check(view, view, evaluation, users, config)
    assert same.passed and same.detail.startswith("equal within noise: recall@10"), same.detail
    assert same.figures["eval_users_only_the_candidate_knows"] == 0
    tail = view.item_ids[np.argsort(view.popularity)][:10]

    def least_popular(user_id):
        rows = tf.shape(user_id)[0]
        return {"item_ids": tf.tile(tf.constant(tail.astype(bytes))[None, :], [rows, 1])}

    worse = checks.BundleView(view.item_ids, view.popularity, least_popular, view.path)
    refused = checks.comparison_check(worse, view, evaluation, users, config)
    assert not refused.passed and refused.detail.startswith("worse: recall@10"), refused.detail
    assert refused.figures["verdict"] == "worse" and refused.figures["high"] < 0
    first = checks.comparison_check(view, None, evaluation, users, config)
    assert first.passed and first.detail.startswith("first run")
