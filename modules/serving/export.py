"""Writing a serving bundle: the SavedModel, its ScaNN companion, every user's answer."""

from __future__ import annotations

import io
import os

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch.bundle import companion_path
from recsearch.config import Model
from recsearch.modules import answers
from recsearch.modules.ann import IndexParams
from recsearch.modules.serving.common import EXPORT_BATCH
from recsearch.modules.serving.module import RecommenderModule
from recsearch.modules.training_data import Catalog


def export(module: RecommenderModule, path: str) -> None:
    """Saves the module with its signatures."""
    tf.saved_model.save(module, path, signatures=module.signatures())


# Every known user's `recommend` answer is written beside the graph at export, so
# that the CLI answers without loading TensorFlow (modules/answers.py reads it).
ANSWERS_MAX_USERS = 200_000
# An id no vocabulary holds: its answer is the bundle's fallback for unknown users.
UNKNOWN_USER = "\x00unknown user"


def write_answers(module: RecommenderModule, users: list[str], path: str) -> bool:
    """Writes `recommend`'s answer for every user, and for an unknown one, under `path`.

    The answers are the signature's own outputs (items and scores as served);
    above ANSWERS_MAX_USERS users nothing is written and callers use the model.

    Returns:
      Whether the answers were written.
    """
    if len(users) > ANSWERS_MAX_USERS:
        return False
    items, scores = [], []
    # A ranker scores batch x rerank_depth pairs at once: smaller batches keep that bounded.
    batch = EXPORT_BATCH if module.ranker is None else max(1, 2**16 // module.rerank_depth)
    for start in range(0, len(users), batch):
        out = module.recommend(tf.constant(users[start : start + batch]))
        items.append(out["item_ids"].numpy())
        scores.append(out["scores"].numpy())
    fallback = module.recommend(tf.constant([UNKNOWN_USER]))
    width = fallback["item_ids"].shape[1]
    answered = np.concatenate(items) if items else np.zeros((0, width), dtype=object)
    catalog, index = np.unique(
        np.concatenate([answered.ravel(), fallback["item_ids"].numpy().ravel()]),
        return_inverse=True,
    )
    index = index.astype(np.int32)
    buffer = io.BytesIO()  # zipfile seeks, which a GFile does not
    np.savez_compressed(
        buffer,
        users=np.array(users, dtype=object).astype("U"),
        items=np.array([v.decode() for v in catalog]).astype("U"),
        answers=index[: answered.size].reshape(answered.shape),
        scores=np.concatenate(scores) if scores else np.zeros((0, width), np.float32),
        fallback=index[answered.size :],
        fallback_scores=fallback["scores"].numpy()[0],
    )
    target = os.path.join(path, answers.ANSWERS)
    tf.io.gfile.makedirs(os.path.dirname(target))
    with tf.io.gfile.GFile(target, "wb") as f:
        f.write(buffer.getvalue())
    return True


def export_bundle(
    model: tf.keras.Model,
    catalog: Catalog,
    tft_output: tft.TFTransformOutput,
    path: str,
    top_k: int,
    exclude_seen: bool,
    index_params: IndexParams | None = None,
    content: tf.keras.Model | None = None,
    ranker: tf.keras.Model | None = None,
    rerank_depth: int = Model.rerank_depth,
    similar_from_model: bool = False,
) -> None:
    """The exact bundle at `path`, and with `index_params` its ScaNN companion inside it.

    `content`: a model that answers the content signatures; `ranker`: the
    ranking stage over `rerank_depth` retrieved candidates; `similar_from_model`:
    warm items' similar_items from `model` (see RecommenderModule).
    Every known user's `recommend` answer is written too (`write_answers`), from
    the module `bundle.load` serves by default: the companion when there is one.
    """
    stages = {
        "content": content,
        "ranker": ranker,
        "rerank_depth": rerank_depth,
        "similar_from_model": similar_from_model,
    }
    exact = RecommenderModule(model, catalog, tft_output, top_k, exclude_seen, **stages)
    export(exact, path)
    served = exact
    if index_params is not None:
        served = RecommenderModule(
            model, catalog, tft_output, top_k, exclude_seen, index_params, **stages
        )
        export(served, companion_path(path))
    users = [v.decode() for v in tft_output.vocabulary_by_name(keys.USER_ID)]
    write_answers(served, users, path)
