"""model: auto: the candidates that fit, the comparison on training data, the mixed bundle."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from recsearch import testing
from recsearch.features import FeatureSpec
from recsearch.modules import selection, train_export, trainer, tuning


def test_ease_is_skipped_with_the_reason_beyond_its_item_cap():
    chosen, skipped = selection.candidates_for("retrieval", 40_000)
    assert [c.name for c in chosen] == ["two_tower"]
    (why,) = skipped.values()
    assert "30,000 items" in why and "40,000" in why
    chosen, skipped = selection.candidates_for("retrieval", 1_000)
    assert [c.label for c in chosen] == ["ease (recency_half_life 10)", "two_tower"]
    assert not skipped
    assert [c.label for c in selection.candidates_for("rating", 10)[0]] == [
        "bias (bias_l2 1)",
        "bias (bias_l2 5)",
        "bias (bias_l2 25)",
        "mf",
        "hybrid_mf",
        "autorec",
        "mf_autorec",
    ]
    assert "gru4rec" in [c.name for c in selection.candidates_for("sequential", 10)[0]]


def test_auto_skips_a_candidate_over_its_budget_and_says_why():
    # 9.7k items from 600 users: the users' side solves in about 1.8 s.
    chosen, skipped = selection.candidates_for("retrieval", 9_700, num_users=600)
    assert [c.name for c in chosen] == ["ease", "two_tower"] and not skipped
    # 25k items from 100k users: 25k^3 flops, over the time and memory budget.
    chosen, skipped = selection.candidates_for("retrieval", 25_000, num_users=100_000)
    assert [c.name for c in chosen] == ["two_tower"]
    (why,) = skipped.values()
    assert "estimated at 521 s and 7.0 GiB" in why and "model.name: ease" in why
    # Without side features hybrid MF would be plain MF: skipped, with the reason.
    chosen, skipped = selection.candidates_for("rating", 100, has_fields=False)
    assert "hybrid_mf" not in [c.name for c in chosen]
    assert skipped == {"hybrid_mf": "users and items have no side features to embed"}


def test_the_inner_comparison_samples_whole_users_above_its_row_budget():
    users = np.repeat(np.arange(1000), 10)
    columns = {"user_id": users, "item_id": np.arange(10_000)}
    assert tuning.sample_users(columns, 20_000, seed=1) is columns
    sampled = tuning.sample_users(columns, 2_000, seed=1)
    counts = np.bincount(sampled["user_id"], minlength=1000)
    assert set(counts) <= {0, 10}  # every kept user keeps every row
    assert 1_500 <= len(sampled["user_id"]) <= 2_500
    again = tuning.sample_users(columns, 2_000, seed=1)
    np.testing.assert_array_equal(again["item_id"], sampled["item_id"])


def test_a_baseline_winner_and_early_stopped_epochs_are_said():
    winner = selection.Candidate("bias", {"bias_l2": 25.0})
    chosen = selection.Selection(
        winner,
        scores={winner.label: -0.88, "mf": -0.93},
        seconds={winner.label: 0.1, "mf": 12.0},
        skipped={},
        metric="-rmse",
    )
    assert "every factor model scored below the bias baseline: the baseline serves" in (
        chosen.lines()
    )
    assert chosen.final_settings() == {}
    stopped = dataclasses.replace(
        chosen, winner=selection.Candidate("mf"), epochs=3, start={"bias_l2": 1.0}
    )
    assert stopped.final_settings() == {"epochs": 3, "bias_l2": 1.0}
    assert "mf trains 3 epochs (its best, stopped early)" in stopped.lines()


def test_lines_name_the_winner_and_the_content_model():
    winner = selection.Candidate("ease", {"recency_half_life": 10.0})
    chosen = selection.Selection(
        winner,
        scores={winner.label: 0.31, "two_tower": 0.22},
        seconds={winner.label: 1.0, "two_tower": 9.0},
        skipped={"mult_vae": "not fitting"},
        metric="recall@10",
        content_model="two_tower",
        content_signatures=("search_text", "similar_items"),
    )
    lines = chosen.lines()
    assert lines[0] == "ease (recency_half_life 10): recall@10 0.3100 (1.0 s)  <- serves recommend"
    assert lines[1] == "two_tower: recall@10 0.2200 (9.0 s)"
    assert lines[2] == "mult_vae: skipped, not fitting"
    assert lines[3] == "two_tower answers search_text, similar_items (items have text or images)"
    measured = dataclasses.replace(
        chosen,
        similar_scores={winner.label: 0.12, "two_tower": 0.05},
        similar_from_model=True,
    ).lines()
    assert measured[3] == "two_tower answers search_text (items have text or images)"
    assert measured[4] == (
        "similar_items of items with interactions: ease (recency_half_life 10) (recall@K of "
        "the same users' other next items: ease (recency_half_life 10) 0.1200, two_tower "
        "0.0500); cold items: two_tower"
    )


def test_content_model_only_when_items_have_content_and_another_model_wins():
    text = FeatureSpec(item_text=("item__title",))
    assert selection.needs_content_model(text, "retrieval", "ease")
    assert not selection.needs_content_model(text, "retrieval", "two_tower")
    assert not selection.needs_content_model(FeatureSpec(), "retrieval", "ease")
    assert not selection.needs_content_model(text, "rating", "mf")


@pytest.mark.slow
def test_auto_measures_candidates_and_keeps_content_search(transformed, tmp_path):
    config = transformed.config
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, name="auto"),
        serving=dataclasses.replace(config.serving, index="brute_force"),
    )
    version_dir, run_dir = str(tmp_path / "serving" / "1"), str(tmp_path / "run")
    args = testing.fn_args(
        config, transformed.transformed_dir, transformed.transform_graph, version_dir, run_dir
    )
    trainer.run_fn(args)
    with open(os.path.join(run_dir, selection.SELECTION_FILE)) as f:
        chosen = json.load(f)
    assert set(chosen["scores"]) == {"ease (recency_half_life 10)", "two_tower"}
    assert chosen["scores"][chosen["winner_label"]] == max(chosen["scores"].values())
    with open(os.path.join(run_dir, train_export.HISTORY_FILE)) as f:
        history = json.load(f)
    assert history["model"] == chosen["winner"]
    # A losing two_tower answers search as its trial was trained, not trained again.
    assert history["content_from_trial"] == bool(chosen["content_model"])
    model = tf.saved_model.load(version_dir)
    # The sample shop's items have text and images: search stays, whoever wins.
    assert {"search_text", "search_image", "recommend", "similar_items"} <= set(model.signatures)
    found = model.signatures["search_text"](query=tf.constant(["wireless speaker"]))
    assert found["item_ids"].shape == (1, config.serving.top_k)
    out = model.signatures["recommend"](user_id=tf.constant(["u00001"]))
    items = out["item_ids"].numpy()[0]
    scores = model.signatures["predict"](
        user_id=tf.constant(["u00001"] * 3), item_id=tf.constant(items[:3])
    )["scores"].numpy()
    assert np.allclose(scores, out["scores"].numpy()[0][:3], rtol=1e-4, atol=1e-5)
    if chosen["content_model"]:
        # Embeddings come from the content model: the two-tower's width, not EASE's.
        embedded = model.signatures["embed_items"](item_id=tf.constant(["new-001"]))
        assert embedded["embeddings"].shape[1] == config.model.settings["embedding_dim"]
        assert np.linalg.norm(embedded["embeddings"].numpy()) > 0
        # similar_items: both models were measured on the inner split; a cold item is
        # answered by content (the cosine of the content vectors), a warm one by content
        # unless the winner measured better.
        assert set(chosen["similar_scores"]) == set(chosen["scores"])
        catalog = _catalog_ids(config)
        vectors = model.signatures["embed_items"](item_id=tf.constant(catalog))["embeddings"]
        unit = vectors.numpy() / np.linalg.norm(vectors.numpy(), axis=1, keepdims=True)
        for item, by_content in (("new-001", True), ("i0003", not chosen["similar_from_model"])):
            row = catalog.index(item)
            cosine = np.delete(unit @ unit[row], row)
            expected = np.sort(cosine)[::-1][: config.serving.top_k]
            found = model.signatures["similar_items"](item_id=tf.constant([item]))
            same = np.allclose(found["scores"].numpy()[0], expected, atol=1e-4)
            assert same == by_content, (item, chosen["similar_scores"])


def _catalog_ids(config) -> list[str]:
    import pandas as pd

    items = pd.read_csv(config.resolve(config.items.path), dtype=str)
    return list(items[config.items.id])
