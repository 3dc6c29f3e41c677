"""The ranking stage of a two-stage bundle, as the Trainer orchestrates it.

The ranker learns from the retrieval model's own candidates (`two_stage`):
`ranking_rows` draws them from the retrieval model trained on the inner split,
and `refit_ranker` trains the refit bundle's ranker again with the held-out
split's rows too.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import tensorflow as tf

from recsearch import features as keys
from recsearch import model_registry
from recsearch.config import Model
from recsearch.modules import tuning, two_stage
from recsearch.modules.run_inputs import RunInputs
from recsearch.modules.train_export import Trained, TrainingPlan


def negatives_per_row(settings: Model) -> int:
    """The ranker's `num_negatives`: hard negatives drawn from the retrieved candidates."""
    return model_registry.family(settings.ranker).config(settings).num_negatives


def ranking_rows(
    log_dir: str,
    plan: TrainingPlan,
    inner: tuning.InnerData,
    retriever: tf.keras.Model | None,
) -> two_stage.RankingRows:
    """The ranking stage's rows, from the retrieval model trained on the inner split.

    `retriever`: that model when `model: auto` already trained it; else it is trained
    here, its logs under `log_dir`.
    """
    settings = plan.settings
    if retriever is None:
        retriever = tuning.fit_inner(
            plan.name, settings, inner, os.path.join(log_dir, "two_stage", "retrieval_inner")
        )
    rows = two_stage.ranking_rows(
        retriever,
        inner,
        settings.rerank_depth,
        negatives_per_row(settings),
        settings.seed,
        freshness=settings.freshness,
    )
    logging.info(
        "Trainer: two stages: %d ranking rows; the retrieval stage finds %.1f%% of users' "
        "latest training items in its %d candidates; %.1f%% of the negatives are its own",
        len(rows.rows[keys.USER_ID]),
        100 * rows.recall_at_depth,
        settings.rerank_depth,
        100 * rows.retrieved_share,
    )
    return rows


def refit_ranker(
    inputs: RunInputs,
    plan: TrainingPlan,
    inner: tuning.InnerData,
    inner_rows: two_stage.RankingRows,
    candidate: Trained,
) -> TrainingPlan:
    """The plan with the refit bundle's ranker: trained again, with the held-out split's rows.

    The judged candidate's retrieval model (trained on the train split) draws its
    candidates for the held-out interactions, the latest of the log, as the inner
    retrieval model drew them for the train split's latest (`ranking_rows`). The
    ranker is trained anew on both sets of rows: the bundle served after the
    held-out period learns which candidates users took most recently. (Serving
    the candidate's ranker, trained on rows a period older, kept 2% of the 8% it
    added on the eval split, on MovieLens; docs/benchmarks.md.)
    """
    settings = plan.settings
    held = tuning.read_columns(inputs, inputs.heldout_files, inner.spec)
    data = dataclasses.replace(inner, held=held, catalog=candidate.catalog)
    try:
        latest = two_stage.ranking_rows(
            candidate.model,
            data,
            settings.rerank_depth,
            negatives_per_row(settings),
            settings.seed,
            freshness=settings.freshness,
        )
    except two_stage.NoRankingRows as e:
        logging.info("Trainer: two stages: the refit keeps the candidate's ranker: %s", e)
        return plan
    rows = two_stage.join(inner_rows, latest)
    log_dir = os.path.join(inputs.log_dir, "two_stage", "ranker_refit")
    ranker, history = two_stage.train_ranker(plan.ranker, settings, data, rows, log_dir)
    count = len(rows.rows[keys.USER_ID])
    logging.info(
        "Trainer: two stages: the refit's ranker trained on %d rows (%d of them held-out "
        "interactions its retrieval stage found in %d candidates: %.1f%%)",
        count,
        len(latest.rows[keys.USER_ID]),
        settings.rerank_depth,
        100 * latest.recall_at_depth,
    )
    return dataclasses.replace(
        plan,
        ranker_model=ranker,
        ranker_history={
            **history,
            "rows": count,
            "rows_heldout": len(latest.rows[keys.USER_ID]),
            "retrieval_recall_at_depth_inner": inner_rows.recall_at_depth,
            "retrieval_recall_at_depth_heldout": latest.recall_at_depth,
            "retrieved_negatives": rows.retrieved_share,
        },
    )
