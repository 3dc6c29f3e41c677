"""Two stages: ranking rows drawn from the retrieval model's candidates, and the bundle that
retrieves, then reranks, trained by run_fn on real Transform output and served after reload."""

import dataclasses
import json
import os
import time

import numpy as np
import pytest
import tensorflow as tf

from recsearch import features as keys
from recsearch import testing
from recsearch.config.trainer_settings import TrainerSettings, with_values
from recsearch.modules import (
    evaluation,
    refit,
    selection,
    serving,
    train_export,
    trainer,
    tuning,
    two_stage,
)
from recsearch.modules.run_inputs import RunInputs

pytestmark = pytest.mark.slow
DEPTH = 12


def two_stage_config(config, **model):
    settings = {**testing.LIGHT_MODEL, "name": "two_tower", "ranker": "deepfm", "freshness": True}
    settings.update(rerank_depth=DEPTH, num_negatives=4, **model)
    return dataclasses.replace(
        config,
        model=with_values(config.model, settings),
        serving=dataclasses.replace(config.serving, index="brute_force"),
    )


def test_ranking_rows_are_the_retrieval_stage_candidates_the_user_did_not_take(
    transformed, tmp_path
):
    config = two_stage_config(transformed.config)
    args = testing.fn_args(
        config,
        transformed.transformed_dir,
        transformed.transform_graph,
        str(tmp_path / "serving"),
        str(tmp_path / "run"),
    )
    settings = TrainerSettings.parse(args.custom_config)
    inner = selection.inner_data(RunInputs.of(args), settings)
    retriever = tuning.fit_inner("two_tower", settings.model, inner, str(tmp_path / "logs"))
    rows = two_stage.ranking_rows(retriever, inner, DEPTH, 4, seed=1, freshness=True)

    held_items = inner.held[keys.ITEM_ID]
    in_vocab = held_items < inner.catalog.item_vocab_size
    # Only the interactions whose item the retrieval stage retrieved are rows.
    assert len(rows.rows[keys.USER_ID]) == round(rows.recall_at_depth * in_vocab.sum())
    hard = rows.rows[keys.HARD_NEGATIVES]
    assert hard.shape == (len(rows.rows[keys.USER_ID]), 4) and 0.0 < rows.retrieved_share <= 1.0
    standardized = rows.rows[keys.RETRIEVAL_SCORES]
    assert standardized.shape == (len(hard), 5)
    assert np.all(np.abs(standardized) <= serving.SCORE_CLIP)
    assert 0.0 <= rows.recall_at_depth <= 1.0
    # The negatives are the user's DEPTH best unseen candidates by the retrieval
    # model, as serving ranks them, minus what the user took later.
    module = serving.RecommenderModule(retriever, inner.catalog, inner.tft_output, top_k=1)
    users = rows.rows[keys.USER_ID].astype(np.int64)
    items = rows.rows[keys.ITEM_ID].astype(np.int64)
    checked = 0
    for user in np.unique(users)[:20]:
        scores = module.score_users(tf.constant([user], tf.int64)).numpy()[0]
        retrieved = set(np.argsort(-scores, kind="stable")[:DEPTH].tolist())
        taken = set(items[users == user].tolist())
        seen = set(inner.catalog.seen_by(int(user)).tolist())
        top = scores[sorted(retrieved)]
        for item, negatives, z in zip(
            items[users == user], hard[users == user], standardized[users == user]
        ):
            assert item in retrieved
            # The positive's and the negatives' retrieval scores, standardised over
            # the user's candidates: what the ranker learns to correct.
            expected = (scores[np.concatenate([[item], negatives])] - top.mean()) / top.std()
            np.testing.assert_allclose(
                z, np.clip(expected, -serving.SCORE_CLIP, serving.SCORE_CLIP), rtol=1e-4, atol=1e-4
            )
            from_retrieval = [n for n in negatives if n in retrieved]
            if len(from_retrieval) == len(negatives):  # no uniform filler in this row
                assert len(set(negatives.tolist())) == len(negatives)
                assert not (set(negatives.tolist()) & (taken | seen))
                checked += 1
    assert checked > 0
    # Freshness: each candidate's age at the row's time, from its first interaction in
    # the part the retrieval model was fitted on (never seen there: new at its end); no
    # negative is an item that had not appeared by the row's time.
    fitted = inner.fit_part
    first = {}
    for item, at in zip(fitted[keys.ITEM_ID].tolist(), fitted[keys.TIMESTAMP].tolist()):
        first[item] = min(first.get(item, at), at)
    end = int(fitted[keys.TIMESTAMP].max())
    ages = rows.rows[keys.CANDIDATE_AGES]
    times = rows.rows[keys.TIMESTAMP].astype(np.int64)
    assert ages.shape == standardized.shape
    for row in range(0, len(ages), max(1, len(ages) // 50)):
        born = np.array([first.get(c, end) for c in [items[row], *hard[row]]], np.float64)
        assert np.all(born[1:] <= times[row])
        expected = np.log1p(np.maximum(times[row] - born, 0) / 86400.0)
        np.testing.assert_allclose(ages[row], expected, rtol=1e-5)
    assert ages.max() > ages.min()


def test_two_stage_bundle_reranks_the_retrieved_candidates_after_reload(transformed, tmp_path):
    config = two_stage_config(transformed.config)
    data = testing.with_heldout(transformed.transformed_dir, str(tmp_path / "transformed"))
    version_dir, run_dir = str(tmp_path / "serving" / "1"), str(tmp_path / "run")
    args = testing.fn_args(config, data, transformed.transform_graph, version_dir, run_dir)
    trainer.run_fn(args)
    with open(os.path.join(run_dir, train_export.HISTORY_FILE)) as f:
        history = json.load(f)
    with open(os.path.join(run_dir, refit.REFIT_HISTORY_FILE)) as f:
        refit_record = json.load(f)
    # The refit bundle's ranker was trained again: on the candidate's rows plus those
    # drawn from the held-out interactions by the candidate's retrieval model.
    again = refit_record["ranker_training"]
    assert again["rows_heldout"] > 0
    assert again["rows"] == history["ranker_training"]["rows"] + again["rows_heldout"]
    assert 0.0 < again["retrieval_recall_at_depth_heldout"] <= 1.0
    assert again["loss"] != history["ranker_training"]["loss"]
    served = tf.saved_model.load(refit.refit_model_dir(version_dir))
    assert float(served.ranker.stage_gate) != float(
        tf.saved_model.load(version_dir).ranker.stage_gate
    )
    assert history["model"] == "two_tower" and history["ranker"] == "deepfm"
    ranker = history["ranker_training"]
    assert ranker["loss"] and all(np.isfinite(ranker["loss"] + ranker["val_loss"]))
    # Early stopping: at most the config's epochs, the best held-back epoch kept.
    assert len(ranker["val_loss"]) <= config.model.epochs
    assert ranker["epochs"] == int(np.argmin(ranker["val_loss"])) + 1
    assert 0.0 <= ranker["retrieval_recall_at_depth_inner"] <= 1.0
    # The freshness term was trained: it moved away from its zero start.
    assert len(ranker["freshness"]) == 33 and np.abs(ranker["freshness"]).max() > 0

    model = tf.saved_model.load(version_dir)
    users = ["u00001", "u00002", "u00003"]
    out = model.signatures["recommend"](user_id=tf.constant(users))
    ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
    k = config.serving.top_k
    assert ids.shape == (3, k) and np.all(np.diff(scores, axis=1) <= 1e-6)
    for user, row, row_scores in zip(users, ids, scores):
        # predict is the ranker's score: the same numbers recommend ordered by.
        again = model.signatures["predict"](
            user_id=tf.constant([user] * k), item_id=tf.constant(row)
        )["scores"].numpy()
        np.testing.assert_allclose(again, row_scores, rtol=1e-4, atol=1e-5)
        examples = tf.constant([testing.raw_example(config, user, item) for item in row])
        graded = model.signatures["serving_default"](examples=examples)
        # The Evaluator's rank is the served order; every answer was retrieved first.
        np.testing.assert_array_equal(graded["rank"].numpy(), np.arange(k))
        retrieval = graded[serving.RETRIEVAL_RANK].numpy()
        assert np.all(retrieval < DEPTH)
    # recommend_at is recommend asked at a given time; asked now, the same answer.
    now = tf.constant([int(time.time())] * 3, tf.int64)
    at_now = model.signatures["recommend_at"](user_id=tf.constant(users), request_time=now)
    np.testing.assert_array_equal(at_now["item_ids"].numpy(), ids)
    np.testing.assert_allclose(at_now["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)
    # The ranker reorders: somewhere (among twenty users' answers) the served order is not
    # the retrieval order.
    users = [f"u{n:05d}" for n in range(1, 21)]
    ids = model.signatures["recommend"](user_id=tf.constant(users))["item_ids"].numpy()
    examples = tf.constant(
        [testing.raw_example(config, u, item) for u, row in zip(users, ids) for item in row]
    )
    retrieval = model.signatures["serving_default"](examples=examples)[serving.RETRIEVAL_RANK]
    assert not np.array_equal(retrieval.numpy(), np.tile(np.arange(k), len(users)))


def test_joined_ranking_rows_count_the_interactions_and_negatives_of_both():
    def rows(count, interactions, retrieved):
        return two_stage.RankingRows(
            rows={
                keys.USER_ID: np.arange(count),
                keys.HARD_NEGATIVES: np.zeros((count, 4), np.int64),
            },
            interactions=interactions,
            retrieved_negatives=retrieved,
        )

    first, second = rows(30, 60, 120), rows(10, 40, 20)
    assert (first.recall_at_depth, first.retrieved_share) == (0.5, 1.0)
    assert (second.recall_at_depth, second.retrieved_share) == (0.25, 0.5)
    # 30 rows of 60 interactions, and 10 of 40: 40 rows of 100 interactions.
    joined = two_stage.join(first, second)
    np.testing.assert_array_equal(joined.rows[keys.USER_ID], [*range(30), *range(10)])
    assert joined.rows[keys.HARD_NEGATIVES].shape == (40, 4)
    assert joined.recall_at_depth == pytest.approx(0.4)
    # 120 negatives all retrieved, 40 half of them: 140 of 160.
    assert joined.retrieved_share == pytest.approx(140 / 160)
    other = rows(5, 10, 20)
    other.rows[keys.CANDIDATE_AGES] = np.zeros((5, 5), np.float32)
    with pytest.raises(ValueError, match="columns"):
        two_stage.join(rows(3, 6, 12), other)


def test_the_evaluator_reads_the_retrieval_rank_the_bundle_writes():
    assert evaluation.RETRIEVAL_RANK_KEY == serving.RETRIEVAL_RANK
    metric = evaluation.CatalogRanking("recall", 100, rank_key=evaluation.RETRIEVAL_RANK_KEY)
    assert metric.name == "retrieval_recall@100"
    with pytest.raises(ValueError, match="rank_key"):
        evaluation.CatalogRanking("recall", 10, rank_key="score")
    with pytest.raises(ValueError, match="auc"):
        evaluation.CatalogRanking("auc", 10, rank_key=evaluation.RETRIEVAL_RANK_KEY)


def test_the_graph_standardizes_retrieval_scores_as_the_training_rows_do():
    rng = np.random.default_rng(3)
    reference = rng.normal(2.0, 3.0, (4, 7)).astype(np.float32)
    reference[1, 2] = reference[3, :5] = -np.inf  # excluded (seen) candidates
    values = np.concatenate([reference[:, :3], rng.normal(0, 20, (4, 2))], axis=1)
    values = values.astype(np.float32)
    got = serving.standardize(tf.constant(values), tf.constant(reference)).numpy()
    for row in range(4):
        finite = reference[row][np.isfinite(reference[row])]
        np.testing.assert_allclose(
            got[row], two_stage.standardize(values[row], finite), rtol=1e-5, atol=1e-5
        )
    assert got[1, 2] == -serving.SCORE_CLIP and np.abs(got).max() <= serving.SCORE_CLIP


def test_the_graph_takes_item_ages_as_the_training_rows_do():
    day = 86400
    first_seen = np.array([[0, 3 * day, 30 * day], [30 * day, 3 * day, 0]], np.int64)
    now = np.array([31.0 * day, 2.0 * day])
    got = serving.item_ages(tf.constant(first_seen), tf.constant(now)).numpy()
    np.testing.assert_allclose(got, two_stage.item_ages(first_seen, now[:, None]), rtol=1e-6)
    # 31 days after the first item appeared; an item born after the request has age 0.
    assert got[0, 0] == pytest.approx(np.log1p(31.0)) and got[1, 0] == 0.0
    assert got[1, 2] == pytest.approx(np.log1p(2.0))
