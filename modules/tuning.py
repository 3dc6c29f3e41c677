"""The Tuner's `tuner_fn`: a KerasTuner search over the config's search space.

Each trial builds the configured model with the trial's values, trains it
the way the Trainer does (`fitting.fit`) on the training split minus each
user's latest interactions, and is judged on those by the blessing metric,
computed the way serving ranks (`RecommenderModule.score_users`, seen items
excluded) and the Evaluator averages (`ranking_metrics`). Ratings are judged
by -RMSE. The eval split stays unseen until the Evaluator.

The trials run inside KerasTuner's `BaseTuner`, whose oracle (random search
or Bayesian optimisation) proposes the values; TFX's Tuner executor writes the
best values as the `best_hyperparameters` artifact and the Trainer merges them
into the model config.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import typing
from collections.abc import Callable, Mapping

import keras_tuner
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from recsearch import features as keys
from recsearch import model_registry, ranking_metrics
from recsearch.config import Model
from recsearch.config.trainer_settings import Judging, TrainerSettings, with_values
from recsearch.data.splits import eval_counts
from recsearch.features import FeatureSpec
from recsearch.modules import fitting, serving, training_data
from recsearch.modules.model_factory import make_optimizer
from recsearch.modules.run_inputs import RunInputs

OBJECTIVE = "objective"
_SCORE_USERS = 256


def search_space(space: Mapping[str, list]) -> keras_tuner.HyperParameters:
    """KerasTuner choices, each value cast to its model setting's type."""
    hints = {**typing.get_type_hints(Model), **model_registry.every_setting()}
    hp = keras_tuner.HyperParameters()
    for name, values in space.items():
        cast = float if hints[name] is float else (lambda v: v)
        hp.Choice(name, [cast(v) for v in values], ordered=False)
    return hp


def inner_split(
    columns: Mapping[str, np.ndarray], fraction: float, temporal: bool, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each user's latest `fraction` of rows (or a random share) held out, as two column sets."""
    users = columns[keys.USER_ID]
    if temporal and keys.TIMESTAMP in columns:
        key = columns[keys.TIMESTAMP].astype(np.float64)
    else:
        key = np.random.default_rng(seed).random(len(users))
    order = np.lexsort((np.arange(len(users)), key, users))
    sorted_users = users[order]
    starts = np.searchsorted(sorted_users, sorted_users, side="left")
    ends = np.searchsorted(sorted_users, sorted_users, side="right")
    sizes = ends - starts
    held = np.zeros(len(users), dtype=bool)
    held[order] = (np.arange(len(users)) - starts) >= sizes - eval_counts(sizes, fraction)
    return (
        {k: v[~held] for k, v in columns.items()},
        {k: v[held] for k, v in columns.items()},
    )


def sample_users(
    columns: Mapping[str, np.ndarray], max_rows: int, seed: int
) -> Mapping[str, np.ndarray]:
    """All of `columns` when they hold at most `max_rows` rows; else the rows of a seeded
    sample of users, about `max_rows` of them (whole users: their histories stay whole)."""
    users = columns[keys.USER_ID]
    if len(users) <= max_rows:
        return columns
    distinct = np.unique(users)
    rng = np.random.default_rng(seed)
    kept = distinct[rng.random(len(distinct)) < max_rows / len(users)]
    keep = np.isin(users, kept)
    logging.info(
        "Trainer: the inner comparison samples %d of %d users (%d of %d rows)",
        len(kept),
        len(distinct),
        int(keep.sum()),
        len(users),
    )
    return {k: v[keep] for k, v in columns.items()}


def validation_metric(
    model: tf.keras.Model,
    catalog: training_data.Catalog,
    tft_output: tft.TFTransformOutput,
    held: Mapping[str, np.ndarray],
    task: str,
    metric: str,
    top_k: int,
    ranker: tf.keras.Model | None = None,
    rerank_depth: int = Model.rerank_depth,
) -> float:
    """The blessing metric on held-out rows (higher is better: -RMSE for ratings).

    With `ranker`, of the two-stage ranking (`RecommenderModule`'s).
    """
    if task == "rating":
        predicted = model({k: tf.constant(v) for k, v in held.items()}).numpy()
        return -float(np.sqrt(np.mean((predicted - held[keys.RATING]) ** 2)))
    module = serving.RecommenderModule(
        model, catalog, tft_output, top_k=top_k, ranker=ranker, rerank_depth=rerank_depth
    )
    users = held[keys.USER_ID].astype(np.int64)
    items = held[keys.ITEM_ID].astype(np.int64)
    # Candidate position = vocabulary index; items seen in the fitting part are
    # excluded from the ranking, so they are not relevant either.
    seen_users = np.repeat(np.arange(catalog.num_users), np.diff(catalog.seen_row_splits))
    width = catalog.num_items
    seen = np.isin(users * width + items, seen_users * width + catalog.seen_items)
    keep = (items < catalog.item_vocab_size) & ~seen
    pairs = np.unique(np.stack([users[keep], items[keep]], axis=1), axis=0)
    if not len(pairs):
        raise ValueError("no validation interaction is left to rank; lower validation_fraction")
    ordered, starts = np.unique(pairs[:, 0], return_index=True)
    relevant = np.split(pairs[:, 1], starts[1:])
    # Each user is asked at their earliest held-out time (the ranking stage's item ages).
    asked = None
    if keys.TIMESTAMP in held:
        asked = np.full(catalog.num_users, np.iinfo(np.int64).max, np.int64)
        np.minimum.at(asked, users, np.asarray(held[keys.TIMESTAMP], np.int64))
    ranks = []
    for start in range(0, len(ordered), _SCORE_USERS):
        chunk = ordered[start : start + _SCORE_USERS]
        now = None if asked is None else tf.constant(asked[chunk].astype(np.float64))
        scores = module.score_users(tf.constant(chunk, tf.int64), now=now).numpy()
        for row, items_of_user in zip(scores, relevant[start : start + _SCORE_USERS]):
            ranks.append(ranking_metrics.ranks_of(row, items_of_user, ~np.isfinite(row)))
    # auc and log_loss are not rank metrics; their tuning objective is NDCG.
    name = metric if metric in ranking_metrics.METRICS else "ndcg"
    return ranking_metrics.mean_metrics(ranks, top_k)[name]


@dataclasses.dataclass(frozen=True)
class InnerData:
    """The training split cut once more, with what judging a model on it needs.

    Attributes:
      fit_part: Columns of the rows models are trained on.
      held: Columns of each user's latest training rows, judged on.
      catalog: The catalog of `fit_part`.
      spec: The feature spec.
      tft_output: This run's Transform output.
      judging: How a model is judged on `held`.
    """

    fit_part: Mapping[str, np.ndarray]
    held: Mapping[str, np.ndarray]
    catalog: training_data.Catalog
    spec: FeatureSpec
    tft_output: tft.TFTransformOutput
    judging: Judging


def fit_inner(
    name: str, settings: Model, data: InnerData, log_dir: str, early_stopping: bool = False
) -> tf.keras.Model:
    """Model `name` trained on `data.fit_part` as the Trainer would train it.

    `early_stopping`: stop when the loss on `data.held` stops falling and keep
    the best epoch (`fitting.fit`); `model.best_epochs` says which it was.
    """
    tf.keras.utils.set_random_seed(settings.seed)
    content = training_data.ItemContent.of(data.catalog, data.spec)
    dataset = training_data.column_dataset(data.fit_part, settings.seed, content)
    model = fitting.create_model(name, settings, data.spec, data.tft_output, data.catalog)
    model.compute_loss(next(iter(dataset(settings.batch_size, shuffle=False))))
    model.compile(optimizer=make_optimizer(settings))
    if not getattr(model, "closed_form", False):
        validation = None
        if early_stopping:
            validation = training_data.column_dataset(data.held, settings.seed, content)
        fitting.fit(
            model,
            dataset,
            settings,
            0,
            log_dir,
            rows=len(data.fit_part[keys.USER_ID]),
            validation=validation,
        )
    return model


def judge(model: tf.keras.Model, data: InnerData, **stages) -> float:
    """A model's blessing metric on `data.held` (`stages`: a ranker and its rerank_depth)."""
    judging = data.judging
    return validation_metric(
        model,
        data.catalog,
        data.tft_output,
        data.held,
        judging.task,
        judging.eval_metric,
        judging.top_k,
        **stages,
    )


def fit_and_judge(name: str, settings: Model, data: InnerData, log_dir: str) -> float:
    """Trains model `name` on `data.fit_part` as the Trainer would; its metric on `data.held`.

    Used by the Tuner's trials.
    """
    return judge(fit_inner(name, settings, data, log_dir), data)


class SearchTuner(keras_tuner.engine.base_tuner.BaseTuner):
    """Runs `evaluate(values)` for each trial; nothing is saved between trials."""

    def __init__(self, oracle, evaluate: Callable[[dict], float], **kwargs):
        super().__init__(oracle=oracle, **kwargs)
        self.evaluate = evaluate

    def run_trial(self, trial, *args, **kwargs) -> dict[str, float]:
        values = dict(trial.hyperparameters.values)
        try:
            value = self.evaluate(values)
        except (ValueError, tf.errors.InvalidArgumentError) as error:
            # A setting the model refuses fails the search, naming the values.
            raise keras_tuner.errors.FatalError(f"trial with {values}: {error}") from error
        logging.info("Tuner: %s -> %s %.4f", values, OBJECTIVE, value)
        return {OBJECTIVE: value}

    def save_model(self, trial_id, model, step=0):
        pass

    def load_model(self, trial):
        raise NotImplementedError("trials keep no model; the Trainer trains the best values")


def read_columns(inputs: RunInputs, files: list[str], spec: FeatureSpec) -> dict[str, np.ndarray]:
    """Every transformed row of `files` in memory, one array per feature."""
    return training_data.read_columns(
        training_data.make_dataset(
            files,
            inputs.data_accessor,
            inputs.tft_output,
            batch_size=8192,
            shuffle=False,
            spec=spec,
        ).as_numpy_iterator()
    )


def inner_data(
    inputs: RunInputs,
    spec: FeatureSpec,
    judging: Judging,
    fraction: float,
    seed: int,
    max_rows: int | None = None,
) -> InnerData:
    """The training split cut once more: the part to fit, each user's latest rows, its catalog.

    Used by the Tuner's trials and by `model: auto`; the eval split is never read.
    `max_rows`: above it, a seeded sample of users (`sample_users`).
    """
    tft_output = inputs.tft_output
    columns = read_columns(inputs, inputs.train_files, spec)
    if max_rows:
        columns = sample_users(columns, max_rows, seed)
    fit_part, held = inner_split(columns, fraction, temporal=judging.temporal, seed=seed)
    catalog_batches = ()
    if inputs.catalog_files:
        catalog_batches = training_data.make_dataset(
            inputs.catalog_files,
            inputs.data_accessor,
            tft_output,
            8192,
            shuffle=False,
            spec=spec,
            content=training_data.OWN,
        ).as_numpy_iterator()
    catalog = training_data.build_catalog([fit_part], tft_output, spec, catalog_batches)
    return InnerData(fit_part, held, catalog, spec, tft_output, judging)


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
    """KerasTuner search over the settings' `tuning`; see the module docstring."""
    settings = TrainerSettings.parse(fn_args.custom_config)
    inputs = RunInputs.of(fn_args, fn_args.working_dir or os.path.join("/tmp", "recsearch_tuner"))
    tuning = settings.tuning
    data = inner_data(
        inputs,
        settings.features,
        settings.judging,
        tuning.validation_fraction,
        tuning.seed,
    )

    def evaluate(values: dict) -> float:
        log_dir = os.path.join(inputs.log_dir, "tuner_logs")
        return fit_and_judge(
            settings.model_name, with_values(settings.model, values), data, log_dir
        )

    algorithms = {
        "random": keras_tuner.oracles.RandomSearchOracle,
        "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
    }
    oracle = algorithms[tuning.algorithm](
        objective=keras_tuner.Objective(OBJECTIVE, direction="max"),
        max_trials=tuning.max_trials,
        hyperparameters=search_space(tuning.search_space),
        seed=tuning.seed,
    )
    tuner = SearchTuner(
        oracle,
        evaluate,
        directory=inputs.log_dir,
        project_name="recsearch",
        overwrite=True,
    )
    return TunerFnResult(tuner=tuner, fit_kwargs={})
