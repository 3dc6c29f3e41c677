"""The serving bundle: a SavedModel that takes raw ids (or text, or images) and returns items.

`module.RecommenderModule` is the bundle's tf.Module, assembled from one part per
concept (`exact`, `rerank`, `ann_companion`, `search_heads`); `export` writes it.
The names below are the package's public API.
"""

from recsearch.modules.serving.common import candidate_matrix
from recsearch.modules.serving.export import (
    ANSWERS_MAX_USERS,
    UNKNOWN_USER,
    export,
    export_bundle,
    write_answers,
)
from recsearch.modules.serving.module import RETRIEVAL_RANK, SIGNATURES, RecommenderModule
from recsearch.modules.serving.rerank import DAY_SECONDS, SCORE_CLIP, item_ages, standardize

__all__ = [
    "ANSWERS_MAX_USERS",
    "DAY_SECONDS",
    "RETRIEVAL_RANK",
    "SCORE_CLIP",
    "SIGNATURES",
    "UNKNOWN_USER",
    "RecommenderModule",
    "candidate_matrix",
    "export",
    "export_bundle",
    "item_ages",
    "standardize",
    "write_answers",
]
