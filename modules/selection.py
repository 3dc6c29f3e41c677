"""`model: auto`: the candidate models that fit the task, compared on the training data.

Each candidate is trained on the train split minus each user's latest
interactions (a random share without timestamps), as the Tuner's trials are,
and judged on those by the blessing metric (-RMSE for ratings). The eval split
stays unseen until the Evaluator judges the winner. A candidate that cannot
fit the catalog (EASE's dense item x item matrix above its cap) is skipped
with the reason.

When items have text or images, the two-tower model also answers search,
similar items and cold items in the same bundle, whichever candidate wins
`recommend`: a user never trades search for accuracy. When it was compared
and lost, its trial answers them as it is (`Selection.content_trial`): it
was trained like the final models, on each user's earlier training
interactions, and training it twice more (candidate and refit bundles) was
most of a MovieLens run's time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import numpy as np
import tensorflow as tf

from recsearch.config.trainer_settings import TrainerSettings, with_values
from recsearch.features import FeatureSpec
from recsearch.model_registry import (
    AUTO_MAX_ROWS,
    CONTENT_MODEL,
    FAMILIES,
    Candidate,
    candidates_for,
)
from recsearch.modules import item_similarity, tuning
from recsearch.modules.run_inputs import RunInputs

SELECTION_FILE = "model_selection.json"
VALIDATION_FRACTION = 0.2


@dataclasses.dataclass
class Selection:
    """What auto compared and chose.

    Attributes:
      winner: The candidate that serves `recommend`.
      scores: Label -> validation value of the blessing metric (higher wins).
      seconds: Label -> seconds to train and judge it.
      skipped: Label -> why it was not trained.
      metric: The metric compared ("-rmse" for ratings).
      content_model: The model that answers search and cold items, when
        another one wins `recommend` (None: the winner does it all).
      content_signatures: The signatures the content model answers.
      epochs: The epochs the final model trains: the winner's best on the
        inner split when it was stopped early (ratings); None: the config's.
      start: Settings the winner was trained with on the inner split beyond
        its own (a rating factor model's `bias_l2`: the best bias baseline's).
      model: The winner as trained on the inner split (not saved): a
        two-stage Trainer draws its ranking stage's candidates from it.
      content_trial: The content model as trained on the inner split, when it
        was a candidate and lost: it answers the content signatures as it is,
        rather than being trained again for each bundle.
      similar_scores: Label -> similar-items recall@K on the inner split
        (modules/item_similarity.py) of the content model and the winner.
      similar_from_model: The winner answers similar_items for items with
        interactions (it measured better); the content model answers cold items.
    """

    winner: Candidate
    scores: dict[str, float]
    seconds: dict[str, float]
    skipped: dict[str, str]
    metric: str
    content_model: str | None = None
    content_signatures: tuple[str, ...] = ()
    epochs: int | None = None
    start: dict = dataclasses.field(default_factory=dict)
    model: tf.keras.Model | None = dataclasses.field(default=None, repr=False, compare=False)
    content_trial: tf.keras.Model | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    similar_scores: dict[str, float] = dataclasses.field(default_factory=dict)
    similar_from_model: bool = False

    def final_settings(self) -> dict:
        """Settings of the final training beyond the winner's own: its best epochs and the
        biases it started from."""
        return {**self.start, **({"epochs": self.epochs} if self.epochs else {})}

    def lines(self) -> list[str]:
        """What the terminal and the report say about the choice."""
        out = [
            f"{label}: {self.metric} {value:.4f} ({self.seconds[label]:.1f} s)"
            + ("  <- serves recommend" if label == self.winner.label else "")
            for label, value in sorted(self.scores.items(), key=lambda kv: -kv[1])
        ]
        out += [f"{label}: skipped, {why}" for label, why in self.skipped.items()]
        if self.winner.name == "bias":
            out.append("every factor model scored below the bias baseline: the baseline serves")
        if self.epochs:
            out.append(
                f"{self.winner.label} trains {self.epochs} epoch{'s' if self.epochs != 1 else ''}"
                " (its best, stopped early)"
            )
        if self.content_model:
            signatures = [
                s
                for s in self.content_signatures
                if not (self.similar_from_model and s == "similar_items")
            ]
            out.append(
                f"{self.content_model} answers {', '.join(signatures)} "
                "(items have text or images)"
            )
        if self.similar_scores:
            measured = ", ".join(
                f"{label} {value:.4f}" for label, value in self.similar_scores.items()
            )
            who = self.winner.label if self.similar_from_model else self.content_model
            out.append(
                f"similar_items of items with interactions: {who} (recall@K of the same users' "
                f"other next items: {measured})"
                + ("; cold items: " + str(self.content_model) if self.similar_from_model else "")
            )
        return out

    def to_json(self) -> dict:
        return {
            "winner": self.winner.name,
            "winner_label": self.winner.label,
            "winner_settings": dict(self.winner.settings),
            "metric": self.metric,
            "scores": self.scores,
            "seconds": self.seconds,
            "skipped": self.skipped,
            "content_model": self.content_model,
            "similar_scores": self.similar_scores,
            "similar_from_model": self.similar_from_model,
            "epochs": self.epochs,
            "lines": self.lines(),
        }


def needs_content_model(spec: FeatureSpec, task: str, winner: str) -> bool:
    """Whether the bundle needs the two-tower model beside the winner for content search."""
    return task != "rating" and bool(spec.item_text or spec.item_image) and winner != CONTENT_MODEL


def inner_data(inputs: RunInputs, settings: TrainerSettings) -> tuning.InnerData:
    """The training split cut into the part candidates fit and the part they are judged on."""
    return tuning.inner_data(
        inputs,
        settings.features,
        settings.judging,
        VALIDATION_FRACTION,
        settings.model.seed,
        max_rows=AUTO_MAX_ROWS,
    )


def select(settings: TrainerSettings, data: tuning.InnerData, log_dir: str) -> Selection:
    """Trains each candidate on the inner split of the training data and picks the best.

    Each candidate's training logs go under `log_dir`/selection/<label>.
    """
    spec, model_settings = settings.features, settings.model
    task = settings.judging.task
    chosen, skipped = candidates_for(
        task,
        data.catalog.item_vocab_size,
        num_users=int(np.count_nonzero(np.diff(data.catalog.seen_row_splits))),
        has_fields=spec.has_fields,
    )
    metric = settings.judging.label
    scores, seconds, models = {}, {}, {}
    # The rating factor models start from the biases of the best bias baseline so far
    # (its penalty chosen on the inner split; the bias candidates come first).
    start: dict = {}
    best_bias = -float("inf")
    for candidate in chosen:
        started = time.time()
        models[candidate.label] = tuning.fit_inner(
            candidate.name,
            with_values(model_settings, {**start, **candidate.settings}),
            data,
            log_dir=os.path.join(log_dir, "selection", candidate.label),
            # Rating models stop when the inner error stops falling (they overfit sparse logs).
            early_stopping=task == "rating",
        )
        scores[candidate.label] = tuning.judge(models[candidate.label], data)
        seconds[candidate.label] = time.time() - started
        logging.info(
            "Trainer: model auto: %s %s %.4f", candidate.label, metric, scores[candidate.label]
        )
        if candidate.name == "bias" and scores[candidate.label] >= best_bias:
            best_bias = scores[candidate.label]
            given = FAMILIES["bias"].config(model_settings).bias_l2
            start = {"bias_l2": candidate.settings.get("bias_l2", given)}
    winner = max(chosen, key=lambda c: scores[c.label])
    model = models[winner.label]
    epochs, final = None, {}
    if task == "rating" and not getattr(model, "closed_form", False):
        # The final model trains for the epochs that scored best on the inner split,
        # from the biases it started from there.
        epochs = getattr(model, "best_epochs", None)
        final = {k: v for k, v in start.items() if k in FAMILIES[winner.name].reads}
    selected = Selection(
        winner, scores, seconds, skipped, metric, model=model, epochs=epochs, start=final
    )
    if not needs_content_model(spec, task, winner.name):
        return selected
    searches = (("search_text",) if spec.item_text else ()) + (
        ("search_image",) if spec.item_image else ()
    )
    content_trial = next((models[c.label] for c in chosen if c.name == CONTENT_MODEL), None)
    similar: dict[str, float] = {}
    if content_trial is not None and has_item_similarity(model):
        k = settings.judging.top_k
        content_label = next(c.label for c in chosen if c.name == CONTENT_MODEL)
        similar = {
            winner.label: item_similarity.measure(model, data, k),
            content_label: item_similarity.measure(content_trial, data, k),
        }
        logging.info("Trainer: model auto: similar-items recall@%d %s", k, similar)
    return dataclasses.replace(
        selected,
        content_model=CONTENT_MODEL,
        content_signatures=(*searches, "similar_items", "embed_items"),
        content_trial=content_trial,
        similar_scores=similar,
        # NaN (no user with two held-out items) never wins: content stays.
        similar_from_model=bool(similar)
        and similar[winner.label] > max(v for k_, v in similar.items() if k_ != winner.label),
    )


def has_item_similarity(model: tf.keras.Model) -> bool:
    """Whether a model has an item-item similarity of its own: item-item rows (EASE) or
    candidate vectors whose cosine means something (not a pair-scoring network)."""
    return bool(
        getattr(model, "scores_from_history", False) or getattr(model, "inner_product", True)
    )


def write(selection: Selection, model_run_dir: str) -> None:
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, SELECTION_FILE), "w") as f:
        json.dump(selection.to_json(), f, indent=2)


def read(model_run_dir: str) -> dict | None:
    """The selection a Trainer run recorded, or None (a named model, not auto)."""
    path = os.path.join(model_run_dir, SELECTION_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)
