"""Building and fitting a model the way the Trainer does; the Tuner's trials use it too."""

from __future__ import annotations

import logging
import math
import os
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch.config import Model
from recsearch.features import FeatureSpec
from recsearch.modules import training_data
from recsearch.modules.model_factory import Parts, build_model

CATALOG_SPLIT = "catalog"
HELDOUT_SPLIT = "heldout"


def sibling_split(files: list[str], split: str) -> list[str] | None:
    """The file pattern of another split of the same Examples artifact, if it exists.

    TFX gives run_fn only the train and eval splits; the item catalog split
    sits beside them as `Split-catalog`.
    """
    split_dir = os.path.dirname(files[0])
    candidate = os.path.join(os.path.dirname(split_dir), f"Split-{split}")
    return [os.path.join(candidate, "*")] if tf.io.gfile.isdir(candidate) else None


class EpochProgress(tf.keras.callbacks.Callback):
    """A progress bar over epochs on the terminal (stderr), with the loss and elapsed time."""

    def __init__(self, epochs: int, width: int = 24):
        super().__init__()
        self.epochs, self.width = epochs, width
        self.started = time.time()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        done = epoch + 1
        filled = round(self.width * done / self.epochs)
        bar = "#" * filled + "." * (self.width - filled)
        loss = (logs or {}).get("loss", float("nan"))
        sys.stderr.write(
            f"        training [{bar}] epoch {done}/{self.epochs}  loss {loss:.4f}  "
            f"{time.time() - self.started:.1f} s\n"
        )
        sys.stderr.flush()


def vocabulary(tft_output: tft.TFTransformOutput, name: str) -> list[str] | None:
    """A vocabulary of this run's Transform output, or None if it has none by that name."""
    try:
        return [v.decode() for v in tft_output.vocabulary_by_name(name)]
    except (ValueError, OSError, tf.errors.NotFoundError):
        return None


def text_vocabulary(tft_output: tft.TFTransformOutput, spec: FeatureSpec) -> list[str] | None:
    if not spec.item_text:
        return None
    return [v.decode() for v in tft_output.vocabulary_by_name(keys.TEXT_VOCAB)]


def create_model(
    name: str,
    settings: Model,
    spec: FeatureSpec,
    tft_output: tft.TFTransformOutput,
    catalog: training_data.Catalog,
) -> tf.keras.Model:
    """The configured model, sized by this run's Transform output (used by the Tuner too)."""
    parts = Parts(
        spec,
        training_data.cardinalities(tft_output, spec),
        training_data.text_vocab_size(tft_output, spec),
        catalog,
        text_vocabulary=text_vocabulary(tft_output, spec),
    )
    return build_model(name, settings, parts)


def training_budget(settings: Model, rows: int | None) -> tuple[int, int | None]:
    """(epochs, steps per epoch or None) within `settings.max_examples` examples seen.

    Whole passes over the `rows` training rows while they fit the budget (at
    least one); a single pass that exceeds it is cut to max_examples /
    batch_size steps. Without a budget or a row count, the configured epochs.
    """
    epochs, budget = settings.epochs, settings.max_examples
    if not budget or not rows or rows * epochs <= budget:
        return epochs, None
    if rows <= budget:
        return budget // rows, None
    return 1, math.ceil(budget / settings.batch_size)


# Epochs without a better validation loss before training stops (`fit(validation=...)`).
PATIENCE = 2


def fit(
    model: tf.keras.Model,
    dataset,
    settings: Model,
    steps: int,
    log_dir: str,
    rows: int | None = None,
    validation=None,
) -> list[float]:
    """Trains by gradient descent; returns the loss per epoch.

    A step budget (train_args.num_steps, a runtime parameter on Kubeflow)
    replaces the epochs; otherwise the config's epochs run, within the
    `max_examples` budget over `rows` training rows (`training_budget`).

    With `validation` (a dataset function like `dataset`), training stops
    after PATIENCE epochs without a lower validation loss and the model keeps
    its best epoch's weights; `model.best_epochs` records how many epochs that
    was (the epochs run, without validation).
    """
    epochs, per_epoch = (1, steps) if steps else training_budget(settings, rows)
    if not steps and (epochs, per_epoch) != (settings.epochs, None):
        cut = f"{epochs} epochs" if per_epoch is None else f"{per_epoch} steps"
        message = (
            f"{rows} training rows x {settings.epochs} epochs exceed "
            f"model.max_examples ({settings.max_examples}): training {cut}"
        )
        logging.info("Trainer: %s", message)
        # Beside the progress bar, so the terminal says why it shows fewer epochs.
        sys.stderr.write(f"        {message}\n")
    data = dataset(settings.batch_size, shuffle=True)
    callbacks = [tf.keras.callbacks.TensorBoard(log_dir=log_dir), EpochProgress(epochs)]
    held = None
    if validation is not None:
        held = validation(settings.batch_size, shuffle=False)
        callbacks.append(
            tf.keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=PATIENCE, restore_best_weights=True
            )
        )
    history = model.fit(
        data.repeat() if steps else data,
        epochs=epochs,
        steps_per_epoch=per_epoch,
        validation_data=held,
        callbacks=callbacks,
        verbose=0,
    )
    losses = [float(v) for v in history.history.get("loss", [])]
    checked = history.history.get("val_loss")
    model.best_epochs = int(np.argmin(checked)) + 1 if checked else len(losses)
    return losses
