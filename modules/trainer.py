"""The Trainer's `run_fn`: parse the settings once, choose the plan, train and export it.

What it orchestrates lives beside it: `selection` (`model: auto`),
`ranker_stage` (a two-stage bundle's ranker), `train_export` (training a plan's
models and writing the bundle) and `refit` (the bundle trained again on the
whole log, the one that is pushed).
"""

from __future__ import annotations

import dataclasses
import logging
import os

from tfx.components.trainer.fn_args_utils import FnArgs

from recsearch import features as keys
from recsearch import model_registry
from recsearch.config.trainer_settings import TrainerSettings, with_values
from recsearch.modules import distribute, ranker_stage, selection, two_stage
from recsearch.modules.refit import REFIT_HISTORY_FILE, refit_model_dir
from recsearch.modules.run_inputs import RunInputs
from recsearch.modules.train_export import TrainingPlan, train_and_export


def tuned_values(hyperparameters: dict | None) -> dict:
    """The values of the Tuner's best_hyperparameters (a KerasTuner config), or none."""
    if not hyperparameters:
        return {}
    import keras_tuner

    values = keras_tuner.HyperParameters.from_config(hyperparameters).values
    logging.info("Trainer: tuned hyperparameters %s", values)
    return values


def run_fn(fn_args: FnArgs) -> None:
    """Trains the configured model and exports the serving bundle.

    `fn_args.custom_config` holds the `TrainerSettings`, parsed here once (the
    Tuner's best values, when there is a Tuner, over the model settings);
    `fn_args` becomes the `RunInputs`. Below this function, everything takes
    those typed values.

    With "auto", the candidate families are compared on an inner split of the
    training data first (`selection`), and the winner is trained; when items
    have text or images and the winner is not the two-tower model, the
    two-tower model answers search in the same bundle: its trial from the
    comparison, as it is (trained on each user's earlier training
    interactions), so it is not trained twice more. With "ranker" in the
    model config, the ranking stage is trained too (`two_stage`).

    The candidate is trained on the train split and exported where TFX's
    Evaluator reads it (`serving_model_dir`). With "refit" and a held-out
    split beside the training data, the same configuration is trained again
    on train + held-out (the whole log) and exported to `refit_model_dir`,
    the bundle the Pusher publishes; with a ranker, the refit bundle's ranker
    is trained again with rows from the held-out split too (`refit_ranker`).
    """
    settings = TrainerSettings.parse(fn_args.custom_config, tuned_values(fn_args.hyperparameters))
    distribute.check_devices(settings.accelerator)
    inputs = RunInputs.of(fn_args)
    model = settings.model
    plan = TrainingPlan(settings.model_name, model)
    inner = retriever = None
    if plan.name == model_registry.AUTO or model.ranker:
        inner = selection.inner_data(inputs, settings)
    if plan.name == model_registry.AUTO:
        chosen = selection.select(settings, inner, inputs.log_dir)
        selection.write(chosen, inputs.log_dir)
        for line in chosen.lines():
            logging.info("Trainer: model auto: %s", line)
        plan = TrainingPlan(
            chosen.winner.name,
            with_values(model, {**chosen.winner.settings, **chosen.final_settings()}),
            chosen.content_model,
            model,
            content_trained=chosen.content_trial,
            similar_from_model=chosen.similar_from_model,
        )
        retriever = chosen.model
    if model.ranker:
        rows = ranker_stage.ranking_rows(inputs.log_dir, plan, inner, retriever)
        log_dir = os.path.join(inputs.log_dir, "two_stage", "ranker")
        ranker, history = two_stage.train_ranker(model.ranker, model, inner, rows, log_dir)
        plan = dataclasses.replace(
            plan,
            ranker=model.ranker,
            ranker_model=ranker,
            ranker_history={
                **history,
                "rows": len(rows.rows[keys.USER_ID]),
                "retrieval_recall_at_depth_inner": rows.recall_at_depth,
                "retrieved_negatives": rows.retrieved_share,
            },
        )
    refits = bool(settings.refit and inputs.heldout_files and distribute.is_chief())
    candidate = train_and_export(
        inputs,
        settings,
        plan,
        inputs.train_files,
        fn_args.serving_model_dir,
        # The Evaluator scores the candidate exactly; the gate measures the index of
        # the bundle it would push: with a refit, that one's.
        with_index=not refits,
    )
    if not refits:
        return
    refit_epochs = settings.refit_epochs
    logging.info(
        "Trainer: refitting on train + held-out for serving (%s)",
        f"{refit_epochs} epochs from the candidate's weights" if refit_epochs else "from scratch",
    )
    if plan.ranker:
        plan = ranker_stage.refit_ranker(inputs, plan, inner, rows, candidate)
    refit = train_and_export(
        inputs,
        settings,
        plan,
        [*inputs.train_files, *inputs.heldout_files],
        refit_model_dir(fn_args.serving_model_dir),
        history_name=REFIT_HISTORY_FILE,
        start_from=candidate if refit_epochs else None,
        epochs=refit_epochs or None,
    )
    logging.info("Trainer: the served model saw %d interactions", refit.interactions)
