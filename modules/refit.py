"""The refit: where its bundle goes, and how it continues the judged candidate's training.

With `release.refit`, the Trainer trains the plan it judged again on train +
held-out (the whole log) and exports it beside the candidate, in `REFIT_DIR`:
the bundle the gate measures and the Pusher publishes. With
`release.refit_epochs`, each model starts from the candidate's weights and
optimizer state (`carry_weights`, `carry_optimizer`).
"""

from __future__ import annotations

import os

import tensorflow as tf

REFIT_HISTORY_FILE = "refit_history.json"
# The refit bundle's directory in the Model artifact, beside Format-Serving.
REFIT_DIR = "Format-Refit"


def refit_model_dir(serving_model_dir: str) -> str:
    """Where the refit bundle goes: beside the candidate's Format-Serving directory."""
    return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), REFIT_DIR)


def release_model_path(model_uri: str) -> str:
    """The bundle to publish from a Model artifact: the refit one if present, else the candidate."""
    from tfx.utils import path_utils

    refit = os.path.join(model_uri, REFIT_DIR)
    if tf.io.gfile.exists(os.path.join(refit, "saved_model.pb")):
        return refit
    return path_utils.serving_model_path(model_uri)


def carry_optimizer(source: tf.keras.Model, target: tf.keras.Model) -> bool:
    """Continues `source`'s optimizer state (its step count, Adam's moments) in `target`'s.

    A fresh Adam moves every weight it has a gradient for by about one
    learning rate on its first steps, whatever the weights are; carried, the
    refit takes the steps the candidate would have taken next. Returns False,
    carrying nothing, when the two optimizers' states differ (another
    optimizer, `source` never trained, or other shapes).
    """
    optimizer = getattr(source, "optimizer", None)
    if (
        optimizer is None
        or not getattr(optimizer, "_built", False)
        or type(optimizer) is not type(target.optimizer)
    ):
        return False
    state = [v.numpy() for v in optimizer.variables]
    # Building creates the slots it would create on its first step anyway.
    target.optimizer.build(target.trainable_variables)
    if [v.shape for v in target.optimizer.variables] != [s.shape for s in state]:
        return False
    target.optimizer.set_weights(state)
    return True


def carry_weights(source: tf.keras.Model, target: tf.keras.Model) -> None:
    """Copies `source`'s trainable weights into `target`, built alike.

    Raises:
      ValueError: The two models' trainable weights differ in number or shape.
    """
    pairs = list(zip(source.trainable_weights, target.trainable_weights))
    if len(source.trainable_weights) != len(target.trainable_weights) or any(
        a.shape != b.shape for a, b in pairs
    ):
        raise ValueError(
            f"cannot start {type(target).__name__} from {type(source).__name__}: "
            "their weights differ"
        )
    for a, b in pairs:
        b.assign(a)
