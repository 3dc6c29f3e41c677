"""Transformed training data: batched datasets, and catalog statistics for export.

One vectorised pass over the transformed train split collects what serving
needs besides the model: item counts (popularity and logQ correction), each
user's seen items (to exclude them), and per-user and per-item feature rows
(so `recommend` needs nothing but a user id).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor
from tfx_bsl.public import tfxio

from recsearch.modules import features as keys
from recsearch.modules.features import FeatureSpec
from recsearch.modules.preprocessing import vocabulary_name


def make_dataset(
    files: list[str],
    data_accessor: DataAccessor,
    tft_output: tft.TFTransformOutput,
    batch_size: int,
    shuffle: bool,
    num_epochs: int | None = 1,
    seed: int = 42,
) -> tf.data.Dataset:
    """Batches of transformed features as a dict of tensors."""
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size,
        shuffle=shuffle,
        shuffle_buffer_size=100_000,
        shuffle_seed=seed,
        num_epochs=num_epochs,
        drop_final_batch=False,
    )
    return data_accessor.tf_dataset_factory(
        files, options, tft_output.transformed_metadata.schema
    ).prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass
class Catalog:
    """What the train split says about users and items, indexed like the vocabularies.

    Attributes:
      num_users: User index space (vocabulary + OOV buckets).
      num_items: Item index space (vocabulary + OOV buckets).
      user_vocab_size: Users in the vocabulary; larger indices are unknown users.
      item_ids: The in-vocabulary item ids; indices below len(item_ids) are candidates.
      item_counts: Training interactions per item index [num_items].
      seen_row_splits: CSR row splits over user indices [num_users + 1].
      seen_items: Distinct items each user interacted with, CSR values.
      user_features: Feature name -> value per user index (last seen wins).
      item_features: Feature name -> value per item index.
      rating_mean: Mean training rating (0 without ratings).
    """

    num_users: int
    num_items: int
    user_vocab_size: int
    item_ids: np.ndarray
    item_counts: np.ndarray
    seen_row_splits: np.ndarray
    seen_items: np.ndarray
    user_features: dict[str, np.ndarray]
    item_features: dict[str, np.ndarray]
    rating_mean: float = 0.0

    @property
    def num_candidates(self) -> int:
        return len(self.item_ids)

    def item_probability(self) -> np.ndarray:
        """Smoothed sampling probability of each item index (for logQ correction)."""
        counts = self.item_counts.astype(np.float64) + 1.0
        return (counts / counts.sum()).astype(np.float32)

    def seen_by(self, user: int) -> np.ndarray:
        return self.seen_items[self.seen_row_splits[user] : self.seen_row_splits[user + 1]]


def cardinalities(tft_output: tft.TFTransformOutput, spec: FeatureSpec) -> dict[str, int]:
    """Index-space size of every id, categorical, hashed and cross feature."""
    sizes = {}
    for name in (keys.USER_ID, keys.ITEM_ID, *spec.user_categorical, *spec.item_categorical):
        sizes[name] = tft_output.vocabulary_size_by_name(vocabulary_name(name)) + spec.oov_buckets
    for name in spec.user_hashed + spec.item_hashed:
        sizes[name] = spec.hash_buckets
    for a, b in spec.crosses:
        sizes[keys.cross_feature(a, b)] = spec.hash_buckets
    return sizes


def text_vocab_size(tft_output: tft.TFTransformOutput, spec: FeatureSpec) -> int:
    """Token-id space of the text features: padding + vocabulary + OOV buckets."""
    if not spec.item_text:
        return 0
    return 1 + tft_output.vocabulary_size_by_name(keys.TEXT_VOCAB) + spec.oov_buckets


def build_catalog(
    batches: Iterable[Mapping[str, np.ndarray]],
    tft_output: tft.TFTransformOutput,
    spec: FeatureSpec,
) -> Catalog:
    """Collects the catalog from batches of transformed training features."""
    sizes = cardinalities(tft_output, spec)
    num_users, num_items = sizes[keys.USER_ID], sizes[keys.ITEM_ID]
    item_ids = np.array(
        [v.decode() for v in tft_output.vocabulary_by_name(vocabulary_name(keys.ITEM_ID))],
        dtype=object,
    )
    user_columns = [*spec.user_features()]
    item_columns = [*spec.item_features()]
    user_features: dict[str, np.ndarray] = {}
    item_features: dict[str, np.ndarray] = {}
    counts = np.zeros(num_items, dtype=np.int64)
    pairs_u, pairs_i, rating_sum, rating_n = [], [], 0.0, 0
    for batch in batches:
        users, items = batch[keys.USER_ID], batch[keys.ITEM_ID]
        np.add.at(counts, items, 1)
        pairs_u.append(users)
        pairs_i.append(items)
        _scatter(user_features, batch, user_columns, users, num_users)
        _scatter(item_features, batch, item_columns, items, num_items)
        if keys.RATING in batch:
            rating_sum += float(batch[keys.RATING].sum())
            rating_n += len(users)
    users = np.concatenate(pairs_u) if pairs_u else np.zeros(0, np.int64)
    items = np.concatenate(pairs_i) if pairs_i else np.zeros(0, np.int64)
    unique = np.unique(users * num_items + items)
    seen_users, seen_items = unique // num_items, unique % num_items
    row_splits = np.searchsorted(seen_users, np.arange(num_users + 1)).astype(np.int64)
    return Catalog(
        num_users=num_users,
        num_items=num_items,
        user_vocab_size=num_users - spec.oov_buckets,
        item_ids=item_ids,
        item_counts=counts,
        seen_row_splits=row_splits,
        seen_items=seen_items.astype(np.int64),
        user_features=user_features,
        item_features=item_features,
        rating_mean=rating_sum / rating_n if rating_n else 0.0,
    )


def _scatter(
    table: dict[str, np.ndarray],
    batch: Mapping[str, np.ndarray],
    columns: list[str],
    index: np.ndarray,
    size: int,
) -> None:
    for name in columns:
        values = np.asarray(batch[name])
        if name not in table:
            table[name] = np.zeros((size, *values.shape[1:]), dtype=values.dtype)
        table[name][index] = values
