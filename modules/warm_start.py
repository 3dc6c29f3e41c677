"""Warm-starting a model from the served bundle, remapping embedding rows by vocabulary.

Vocabularies change between data spans: ids appear, disappear and change
position. A row of an id, category or token embedding is carried over when
its token is in both the old and the new vocabulary (at its new position);
new tokens keep their fresh initialisation; OOV rows are carried over as
OOV rows. Every other weight is copied when its shape is unchanged.

The bundle stores what this needs next to the model: every weight under its
attribute path (`assets.extra/warm_start/weights.npz`, stable across
processes, unlike Keras layer names) and the vocabularies (`assets/`).
"""

from __future__ import annotations

import io
import json
import os

import numpy as np
import tensorflow as tf

from recsearch import features as keys

WEIGHTS = os.path.join("assets.extra", "warm_start", "weights.npz")


def named_weights(model: tf.Module) -> dict[str, tf.Variable]:
    """Every variable under its checkpoint path ('item_tower/embeddings/item_id/embeddings').

    The path is made of attribute names, as in a tf.train.Checkpoint, so it is
    the same in every process (Keras layer names get numbered per process).
    """
    found: dict[str, tf.Variable] = {}
    seen: set[int] = set()

    def walk(node, prefix: str) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, tf.Variable):
            found[prefix] = node
            return
        for name, child in node._trackable_children(save_type="checkpoint").items():
            if not prefix and name == "optimizer":
                continue  # training state, not the model
            walk(child, f"{prefix}/{name}" if prefix else name)

    walk(model, "")
    return found


def save(model: tf.Module, bundle_dir: str) -> None:
    """Writes the model's weights into the bundle for the next run's warm start."""
    path = os.path.join(bundle_dir, WEIGHTS)
    tf.io.gfile.makedirs(os.path.dirname(path))
    buffer = io.BytesIO()
    np.savez(buffer, **{name: v.numpy() for name, v in named_weights(model).items()})
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def load(bundle_dir: str) -> dict[str, np.ndarray]:
    path = os.path.join(bundle_dir, WEIGHTS)
    with tf.io.gfile.GFile(path, "rb") as f:
        raw = f.read()
    with np.load(io.BytesIO(raw)) as data:
        return {name: data[name] for name in data.files}


def read_vocabulary(bundle_dir: str, name: str) -> list[str] | None:
    path = os.path.join(bundle_dir, "assets", name)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return [line.rstrip("\n") for line in f]


def remap_rows(
    old: np.ndarray,
    new: np.ndarray,
    old_vocab: list[str],
    new_vocab: list[str],
    offset: int = 0,
) -> tuple[np.ndarray, int, int]:
    """Carries rows over by token; returns (table, rows carried, new tokens).

    Args:
      old: The old table [offset + len(old_vocab) + oov, D].
      new: The freshly initialised new table [offset + len(new_vocab) + oov, D].
      old_vocab, new_vocab: Tokens of the vocabulary rows.
      offset: Rows before the vocabulary (1 for text tokens, whose row 0 is padding).

    Raises:
      ValueError: The widths differ, or a table does not fit its vocabulary.
    """
    if old.shape[1:] != new.shape[1:]:
        raise ValueError(f"embedding widths differ: {old.shape[1:]} != {new.shape[1:]}")
    old_oov = old.shape[0] - offset - len(old_vocab)
    new_oov = new.shape[0] - offset - len(new_vocab)
    if old_oov < 0 or new_oov < 0:
        raise ValueError("a table has fewer rows than its vocabulary")
    table = new.copy()
    table[:offset] = old[:offset]
    where = {token: i for i, token in enumerate(old_vocab)}
    carried = 0
    for j, token in enumerate(new_vocab):
        i = where.get(token)
        if i is not None:
            table[offset + j] = old[offset + i]
            carried += 1
    shared_oov = min(old_oov, new_oov)
    if shared_oov:
        start_old, start_new = offset + len(old_vocab), offset + len(new_vocab)
        table[start_new : start_new + shared_oov] = old[start_old : start_old + shared_oov]
    return table, carried, len(new_vocab) - carried


_MF_TABLES = {
    "user_embedding": keys.USER_ID,
    "user_bias": keys.USER_ID,
    "item_embedding": keys.ITEM_ID,
    "item_bias": keys.ITEM_ID,
}


def _vocabulary_of(path: str) -> tuple[str, int] | None:
    """The vocabulary name and row offset of an embedding table's path, if it has one."""
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] in _MF_TABLES and parts[-1] == "embeddings":
        return _MF_TABLES[parts[-2]], 0
    if len(parts) >= 3 and parts[-3] == "embeddings" and parts[-1] == "embeddings":
        return parts[-2], 0
    if "text_encoder" in parts and path.endswith("embedding/embeddings"):
        return keys.TEXT_VOCAB, 1
    return None


def apply(model: tf.Module, old_bundle: str, new_vocabulary) -> dict:
    """Warm-starts `model` (already built) from `old_bundle`.

    Args:
      model: The new model, with its variables created.
      old_bundle: The served model's directory (its judged twin).
      new_vocabulary: name -> list of tokens of this run's vocabularies.

    Returns:
      A report: per table, rows carried and new; weights copied, skipped.
    """
    report = {"tables": {}, "copied": [], "skipped": []}
    if not tf.io.gfile.exists(os.path.join(old_bundle, WEIGHTS)):
        # A closed-form model (EASE) was served: it keeps no weights to start from.
        report["skipped"].append("the served model keeps no trained weights: a cold start")
        return report
    old = load(old_bundle)
    for name, variable in named_weights(model).items():
        if name not in old:
            report["skipped"].append(f"{name}: not in the old model")
            continue
        vocabulary = _vocabulary_of(name)
        if vocabulary is not None:
            vocab_name, offset = vocabulary
            old_vocab = read_vocabulary(old_bundle, vocab_name)
            new_vocab = new_vocabulary(vocab_name)
            if old_vocab is not None and new_vocab is not None:
                table, carried, fresh = remap_rows(
                    old[name], variable.numpy(), old_vocab, new_vocab, offset
                )
                variable.assign(table)
                report["tables"][name] = {
                    "carried": carried,
                    "new": fresh,
                    "carried_max_abs_difference": _carried_difference(
                        old[name], variable.numpy(), old_vocab, new_vocab, offset
                    ),
                }
                continue
        if tuple(old[name].shape) == tuple(variable.shape):
            variable.assign(old[name])
            report["copied"].append(name)
        else:
            report["skipped"].append(f"{name}: shape {old[name].shape} -> {variable.shape}")
    return report


def _carried_difference(old, new, old_vocab, new_vocab, offset) -> float:
    """Largest difference between a carried row and its old row (0.0 when exact)."""
    where = {token: i for i, token in enumerate(old_vocab)}
    pairs = [(offset + j, offset + where[t]) for j, t in enumerate(new_vocab) if t in where]
    if not pairs:
        return 0.0
    new_rows, old_rows = zip(*pairs)
    return float(np.max(np.abs(new[list(new_rows)] - old[list(old_rows)])))


def write_report(report: dict, run_dir: str) -> None:
    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, "warm_start.json"), "w") as f:
        json.dump(report, f, indent=2)
