"""Training the plan's models on a set of files, and exporting them as one serving bundle.

`TrainingPlan` says which models the bundle holds (the one that serves
`recommend`, the content model beside it, a ranking stage); `train_and_export`
builds the catalog from the files, trains each model (warm-started from the
served model, or continuing a judged candidate for the refit) and writes the
bundle with its training record.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import tensorflow as tf

from recsearch import bundle
from recsearch import features as keys
from recsearch.config import Model, Serving
from recsearch.config.trainer_settings import TrainerSettings
from recsearch.modules import ann, distribute, serving, training_data, warm_start
from recsearch.modules.fitting import create_model, fit, vocabulary
from recsearch.modules.model_factory import make_optimizer, optimizer_name
from recsearch.modules.refit import carry_optimizer, carry_weights
from recsearch.modules.run_inputs import RunInputs

_STATS_BATCH = 8192
HISTORY_FILE = "training_history.json"
# `serving.index: auto` builds an approximate index from this many candidate items.
AUTO_INDEX_ITEMS = 10_000


@dataclasses.dataclass(frozen=True)
class Trained:
    """What `train_and_export` trained: the interactions it saw, and the models."""

    interactions: int
    model: tf.keras.Model
    content: tf.keras.Model | None = None
    catalog: training_data.Catalog | None = None


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """Which model to train, and which one answers content search beside it (if another).

    Attributes:
      name: The model family that serves `recommend`.
      settings: Its settings.
      content_name: The family that answers search_text, search_image,
        similar_items and embed_items, when not `name` itself.
      content_settings: Its settings.
      content_trained: That model already trained (auto's trial of it), used
        as it is in every bundle of the run instead of training it again.
      ranker: The ranking stage's family, for two stages.
      ranker_model: It, trained on rows from the inner split (the refit's own
        is trained again with the held-out split's rows: `refit_ranker`).
      ranker_history: Its training record.
      similar_from_model: `name` answers similar_items for items with
        interactions, the content model for cold ones (auto measured it better).
    """

    name: str
    settings: Model
    content_name: str | None = None
    content_settings: Model | None = None
    content_trained: tf.keras.Model | None = None
    ranker: str | None = None
    ranker_model: tf.keras.Model | None = None
    ranker_history: dict | None = None
    similar_from_model: bool = False


def index_params(
    serving: Serving, num_items: int, inner_product: bool = True
) -> ann.IndexParams | None:
    """ScaNN settings when the config (or "auto" on a large catalog) asks for an index.

    "auto" never indexes a model that scores pairs with a network (no inner
    product to search); asking for "scann" with one is refused when serving.
    """
    choice = serving.index
    if choice == "scann" and not inner_product:
        # Only `model: auto` gets here (the config check refuses a named model):
        # its winner has nothing for an index to search.
        logging.warning(
            "Trainer: serving.index scann does not apply to the chosen model (it does not "
            "score by an inner product of stored vectors); top-K is exact"
        )
        return None
    wanted = choice == "scann" or (
        choice == "auto" and inner_product and num_items >= AUTO_INDEX_ITEMS and bundle.load_scann()
    )
    if not wanted:
        return None
    return ann.IndexParams(
        num_leaves=serving.ann_leaves,
        num_leaves_to_search=serving.ann_leaves_to_search,
        reorder=serving.ann_reorder,
    )


def train_and_export(
    inputs: RunInputs,
    settings: TrainerSettings,
    plan: TrainingPlan,
    files: list[str],
    export_dir: str,
    history_name: str = HISTORY_FILE,
    start_from: Trained | None = None,
    epochs: int | None = None,
    with_index: bool = True,
) -> Trained:
    """Trains the plan's model(s) on `files` and exports the bundle to `export_dir`.

    `start_from`: models trained before on the same vocabularies (the judged
    candidate, for the refit); each starts from its weights and trains `epochs`
    (None: the plan's). Otherwise a previous served model may warm-start it.
    Without `with_index`, no approximate index is built, whatever the config says.
    """
    spec, tft_output, seed = settings.features, inputs.tft_output, plan.settings.seed
    catalog_files = inputs.catalog_files

    def read(files_, batch_size: int, shuffle: bool, content=None) -> tf.data.Dataset:
        return training_data.make_dataset(
            files_,
            inputs.data_accessor,
            tft_output,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            spec=spec,
            content=content,
        )

    # One device: the rows read for the catalog stay in memory for training when they
    # fit (tf.data then does no per-row work); other strategies stream, as do larger logs.
    one_device = settings.training.strategy == "default"
    kept = training_data.KeptColumns(
        read(files, _STATS_BATCH, shuffle=False).as_numpy_iterator(),
        budget=training_data.IN_MEMORY_BYTES if one_device else 0,
    )
    catalog = training_data.build_catalog(
        kept,
        tft_output,
        spec,
        read(catalog_files, _STATS_BATCH, False, training_data.OWN).as_numpy_iterator()
        if catalog_files
        else (),
    )
    # Interactions get their item's text and image here, held once per item.
    item_content = training_data.ItemContent.of(catalog, spec)
    columns = kept.columns()
    in_memory = bool(columns) and len(columns[keys.USER_ID]) > 0
    if in_memory:
        dataset = training_data.column_dataset(columns, seed, item_content)
        del columns  # the dataset holds them as tensors
    else:

        def dataset(batch_size: int, shuffle: bool) -> tf.data.Dataset:
            return read(files, batch_size, shuffle, item_content)

    logging.info(
        "Trainer: training rows %s",
        "held in memory" if in_memory else "streamed from the files each epoch",
    )

    interactions = int(catalog.item_counts.sum())
    logging.info(
        "Trainer: %d users, %d candidate items (%d cold), %d training interactions",
        catalog.user_vocab_size,
        catalog.num_candidates,
        catalog.num_cold_items,
        interactions,
    )
    model_settings = plan.settings
    if epochs is not None:
        model_settings = dataclasses.replace(model_settings, epochs=epochs)
    model, losses, elapsed = train_model(
        inputs,
        settings,
        plan.name,
        model_settings,
        dataset,
        catalog,
        warm=start_from is None,
        start=start_from and start_from.model,
    )
    content = plan.content_trained
    if plan.content_name and content is None:
        content_settings = plan.content_settings
        if epochs is not None:
            content_settings = dataclasses.replace(content_settings, epochs=epochs)
        content, _, _ = train_model(
            inputs,
            settings,
            plan.content_name,
            content_settings,
            dataset,
            catalog,
            start=start_from and start_from.content,
        )
    ranker = plan.ranker_model
    trained = Trained(interactions, model, content, catalog)
    if not distribute.is_chief():
        return trained  # only the chief writes the bundle; the workers only train
    index = None
    if with_index:
        index = index_params(
            settings.serving,
            catalog.num_candidates,
            model.inner_product and not getattr(model, "scores_from_history", False),
        )
    serving.export_bundle(
        model,
        catalog,
        tft_output,
        export_dir,
        top_k=settings.serving.top_k,
        exclude_seen=settings.serving.exclude_seen,
        index_params=index,
        content=content,
        ranker=ranker,
        rerank_depth=plan.settings.rerank_depth,
        similar_from_model=plan.similar_from_model,
    )
    if not getattr(model, "closed_form", False):  # solved again each time, never warm-started
        warm_start.save(model, export_dir)
    tf.io.gfile.makedirs(inputs.log_dir)
    with tf.io.gfile.GFile(os.path.join(inputs.log_dir, history_name), "w") as f:
        json.dump(
            {
                "model": plan.name,
                "content_model": plan.content_name,
                # Whether it is auto's trial, kept as it was, or trained here.
                "content_from_trial": plan.content_trained is not None,
                "ranker": plan.ranker,
                "ranker_training": plan.ranker_history,
                "loss": losses,
                "seconds": elapsed,
                # Closed-form models are solved again, whatever they start from.
                "started_from_candidate": start_from is not None
                and not getattr(model, "closed_form", False),
                "interactions": interactions,
                "users": catalog.user_vocab_size,
                "items": catalog.num_candidates,
            },
            f,
        )
    return trained


def train_model(
    inputs: RunInputs,
    settings: TrainerSettings,
    name: str,
    model_settings: Model,
    dataset,
    catalog: training_data.Catalog,
    warm: bool = False,
    start: tf.keras.Model | None = None,
) -> tuple[tf.keras.Model, list[float], float]:
    """Builds model `name`, warm-starts it when `warm` and asked, and trains it.

    `start`: a model of the same family and vocabularies whose trained weights
    it starts from instead (`carry_weights`).

    Returns:
      The model, its loss per epoch and the training seconds.
    """
    tft_output = inputs.tft_output
    tf.keras.utils.set_random_seed(model_settings.seed)
    strategy = distribute.make_strategy(settings.training.strategy, settings.training.tpu or "")
    with strategy.scope():
        model = create_model(name, model_settings, settings.features, tft_output, catalog)
        # One forward pass creates every variable, so a warm start can fill them.
        model.compute_loss(next(iter(dataset(model_settings.batch_size, shuffle=False))))
        closed_form = getattr(model, "closed_form", False)
        base_model = inputs.base_model
        if start is not None and not closed_form:
            carry_weights(start, model)
        elif warm and base_model and model_settings.warm_start and not closed_form:
            report = warm_start.apply(model, base_model, lambda name: vocabulary(tft_output, name))
            warm_start.write_report(report, inputs.log_dir)
            logging.info("Trainer: warm start from %s: %s", base_model, report["tables"])
            if model_settings.warm_start_epochs:
                # A shorter schedule from the served weights (model.warm_start_epochs).
                model_settings = dataclasses.replace(
                    model_settings, epochs=model_settings.warm_start_epochs
                )
        table_rows = catalog.user_vocab_size + catalog.num_candidates
        model.compile(optimizer=make_optimizer(model_settings, table_rows))
        if not closed_form:
            logging.info("Trainer: optimizer %s", optimizer_name(model_settings, table_rows))
        if start is not None and not closed_form:
            carry_optimizer(start, model)
    started = time.time()
    if closed_form:
        # Solved when built; the loss over the first training rows is its record (every
        # row would score every user's whole row again, once per batch they appear in).
        data = dataset(_STATS_BATCH, shuffle=False).take(1)
        losses = [float(model.evaluate(data, verbose=0, return_dict=True)["loss"])]
        logging.info("Trainer: %s solved in closed form", type(model).__name__)
    else:
        losses = fit(
            model,
            dataset,
            model_settings,
            inputs.train_steps,
            inputs.log_dir,
            rows=int(catalog.item_counts.sum()),
        )
    elapsed = time.time() - started
    logging.info("Trainer: %s trained in %.1f s", name, elapsed)
    return model, losses, elapsed
