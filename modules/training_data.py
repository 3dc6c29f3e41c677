"""Transformed training data: batched datasets, and catalog statistics for export.

One vectorised pass over the transformed train split collects what serving
needs besides the model: item counts (popularity and logQ correction), each
user's seen items (to exclude them), and per-user and per-item feature rows
(so `recommend` needs nothing but a user id).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor
from tfx_bsl.public import tfxio

from recsearch import features as keys
from recsearch.features import FeatureSpec
from recsearch.modules.preprocessing import content_shapes, dense_content, vocabulary_name

# `make_dataset(content=OWN)`: rows keep the content they were written with (the catalog split).
OWN = "own"
# The Trainer holds its training rows in memory (less items' content) up to this size;
# larger logs are streamed from the files each epoch.
IN_MEMORY_BYTES = 2 << 30
# What a string (an object array's element) is counted as, with its pointer.
_OBJECT_BYTES = 64


def make_dataset(
    files: list[str],
    data_accessor: DataAccessor,
    tft_output: tft.TFTransformOutput,
    batch_size: int,
    shuffle: bool,
    num_epochs: int | None = 1,
    seed: int = 42,
    spec: FeatureSpec | None = None,
    content: ItemContent | str | None = None,
) -> tf.data.Dataset:
    """Batches of transformed features as a dict of tensors.

    Args:
      spec: The feature spec; needed when the data has item content.
      content: How rows get items' text and images (`FeatureSpec.content_features`),
        which Transform writes on catalog rows only: `OWN` keeps each row's own
        in the models' dense shapes (the catalog split), an `ItemContent` puts
        each item's on its interactions, None leaves them out.
    """
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=batch_size,
        shuffle=shuffle,
        shuffle_buffer_size=100_000,
        shuffle_seed=seed,
        num_epochs=num_epochs,
        drop_final_batch=False,
    )
    data = data_accessor.tf_dataset_factory(files, options, tft_output.transformed_metadata.schema)
    names = spec.content_features() if spec is not None else ()
    if names and content == OWN:
        shapes = content_shapes(spec)
        data = data.map(
            lambda batch: dense_content(batch, shapes), num_parallel_calls=tf.data.AUTOTUNE
        )
    elif names:
        data = data.map(
            lambda batch: {k: v for k, v in batch.items() if k not in names},
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        if content is not None:
            data = content.put_on(data)
    return data.prefetch(tf.data.AUTOTUNE)


class KeptColumns:
    """Batches passed through as they are read, and kept as columns while they fit.

    `for batch in kept` yields the batches; afterwards `columns()` hands over
    every row as one array per feature, or None when they passed `budget` bytes
    (then nothing is held). A budget of None keeps everything.
    """

    def __init__(self, batches: Iterable[Mapping[str, np.ndarray]], budget: int | None) -> None:
        self._batches = batches
        self._budget = budget
        self._parts: dict[str, list[np.ndarray]] | None = {}
        self._bytes = 0
        self._read = False

    def __iter__(self) -> Iterator[Mapping[str, np.ndarray]]:
        for batch in self._batches:
            if self._parts is not None:
                for name, values in batch.items():
                    self._parts.setdefault(name, []).append(values)
                    self._bytes += values.nbytes
                    if values.dtype == object:
                        self._bytes += values.size * _OBJECT_BYTES
                if self._budget is not None and self._bytes > self._budget:
                    self._parts = None
            yield batch
        self._read = True

    def columns(self) -> dict[str, np.ndarray] | None:
        """The kept rows, handed over: the batches are let go, so a second call gives None."""
        if not self._read:
            raise RuntimeError("KeptColumns.columns() before the batches were read")
        parts, self._parts = self._parts, None
        if parts is None:
            return None
        return {name: np.concatenate(parts.pop(name)) for name in list(parts)}


def read_columns(batches: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Every row of `batches` in memory, as one array per feature."""
    kept = KeptColumns(batches, budget=None)
    for _ in kept:
        pass
    return kept.columns() or {}


def column_dataset(
    columns: Mapping[str, np.ndarray],
    seed: int,
    content: ItemContent | None = None,
) -> Callable[[int, bool], tf.data.Dataset]:
    """`dataset(batch_size, shuffle)` over columns in memory, as `fitting.fit` takes it.

    Shuffled, each pass over the dataset (each epoch) takes the rows in a new
    order of all of them, drawn from `seed`; a batch is gathered from the
    columns at once, so tf.data does no work per row.

    `content`: each item's text and image, put on the rows of its interactions.
    """
    tensors = {name: tf.constant(values) for name, values in columns.items()}
    rows = len(next(iter(columns.values())))

    def dataset(batch_size: int, shuffle: bool) -> tf.data.Dataset:
        generator = tf.random.Generator.from_seed(seed)
        count = -(-rows // batch_size)

        def order(_) -> tf.Tensor:
            if shuffle:
                return tf.argsort(generator.uniform([rows]))
            return tf.range(rows)

        def cut(order: tf.Tensor) -> tf.data.Dataset:
            return tf.data.Dataset.range(count).map(
                lambda b: order[b * batch_size : (b + 1) * batch_size]
            )

        data = tf.data.Dataset.from_tensors(0).map(order).flat_map(cut)
        data = data.map(
            lambda index: {name: tf.gather(t, index) for name, t in tensors.items()},
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        if content is not None:
            data = content.put_on(data)
        return data.prefetch(tf.data.AUTOTUNE)

    return dataset


@dataclasses.dataclass(frozen=True)
class ItemContent:
    """Each item's text token ids and pixels, held once per item.

    Interactions name their item (`ITEM_KEY`, the raw id) and get its content
    in the input pipeline, so no interaction stores or decodes it.

    Attributes:
      item_ids: Raw id of each row of the tables.
      tables: Feature name -> [len(item_ids) + 1, ...] values (the last row,
        all zeros, for items without content); pixels as uint8.
      dtypes: Each feature's dtype as the models take it.
    """

    item_ids: np.ndarray
    tables: dict[str, np.ndarray]
    dtypes: dict[str, np.dtype]

    @classmethod
    def of(cls, catalog: Catalog, spec: FeatureSpec) -> ItemContent | None:
        """The catalog's content, or None when items have none."""
        names = [name for name in spec.content_features() if name in catalog.item_features]
        if not names:
            return None
        tables, dtypes = {}, {}
        for name in names:
            values = catalog.item_features[name]
            dtypes[name] = values.dtype
            stored = values.astype(np.uint8) if name == keys.IMAGE else values
            tables[name] = np.concatenate([stored, np.zeros_like(stored[:1])])
        return cls(catalog.item_ids, tables, dtypes)

    def put_on(self, data: tf.data.Dataset) -> tf.data.Dataset:
        """Batches of interactions with each row's item's content (zeros if it has none)."""
        missing = len(self.item_ids)
        rows = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.item_ids.astype(str)), tf.range(missing, dtype=tf.int64)
            ),
            default_value=missing,
        )
        tables = {name: tf.constant(values) for name, values in self.tables.items()}

        def attach(batch: dict) -> dict:
            index = rows.lookup(tf.reshape(batch[keys.ITEM_KEY], [-1]))
            out = dict(batch)
            for name, table in tables.items():
                out[name] = tf.cast(tf.gather(table, index), self.dtypes[name])
            return out

        return data.map(attach, num_parallel_calls=tf.data.AUTOTUNE)


@dataclasses.dataclass
class Catalog:
    """Users and items as the serving bundle sees them.

    Candidates are the items `recommend` can return: first every item of the
    id vocabulary (candidate i is vocabulary index i), then catalog items
    that never occur in training (cold items, served from their content).

    Attributes:
      num_users: User index space (vocabulary + OOV buckets).
      num_items: Item index space (vocabulary + OOV buckets).
      user_vocab_size: Users in the vocabulary; larger indices are unknown users.
      item_vocab_size: Items in the vocabulary; the first OOV index.
      item_ids: Raw id of each candidate.
      item_index: Id-feature index of each candidate (the OOV index for cold items).
      item_counts: Training interactions per candidate.
      seen_row_splits: CSR row splits over user indices [num_users + 1].
      seen_items: Distinct candidates each user interacted with, CSR values.
      seen_recency: Aligned with seen_items: how many of the user's other
        items they interacted with more recently (0 = the latest). All 0
        without timestamps.
      seen_ratings: Aligned with seen_items: the rating of the pair's latest
        interaction (0 without ratings).
      user_features: Feature name -> value per user index (last seen wins).
      item_features: Feature name -> value per candidate.
      rating_mean: Mean training rating (0 without ratings).
      item_first_seen: Time of each candidate's first training interaction
        (seconds, as the timestamp column; the latest training time for items
        never interacted with, which are new as of training). None without
        timestamps. The ranking stage of two reads an item's age from it.
    """

    num_users: int
    num_items: int
    user_vocab_size: int
    item_vocab_size: int
    item_ids: np.ndarray
    item_index: np.ndarray
    item_counts: np.ndarray
    seen_row_splits: np.ndarray
    seen_items: np.ndarray
    user_features: dict[str, np.ndarray]
    item_features: dict[str, np.ndarray]
    rating_mean: float = 0.0
    seen_recency: np.ndarray | None = None
    seen_ratings: np.ndarray | None = None
    item_first_seen: np.ndarray | None = None

    def __post_init__(self):
        if self.seen_recency is None:
            self.seen_recency = np.zeros_like(self.seen_items)
        if self.seen_ratings is None:
            self.seen_ratings = np.zeros(len(self.seen_items), np.float32)

    @property
    def num_candidates(self) -> int:
        return len(self.item_ids)

    @property
    def num_cold_items(self) -> int:
        return self.num_candidates - self.item_vocab_size

    def item_probability(self) -> np.ndarray:
        """Smoothed sampling probability of each item index [num_items] (for logQ)."""
        counts = np.ones(self.num_items, dtype=np.float64)
        counts[: self.item_vocab_size] += self.item_counts[: self.item_vocab_size]
        return (counts / counts.sum()).astype(np.float32)

    def seen_by(self, user: int) -> np.ndarray:
        return self.seen_items[self.seen_row_splits[user] : self.seen_row_splits[user + 1]]

    def candidate_features(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """Item-tower inputs of some candidates."""
        features = {keys.ITEM_ID: self.item_index[positions]}
        for name, values in self.item_features.items():
            features[name] = values[positions]
        return features


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
    catalog_batches: Iterable[Mapping[str, np.ndarray]] = (),
) -> Catalog:
    """Collects the catalog from transformed training batches and catalog-split batches."""
    sizes = cardinalities(tft_output, spec)
    num_users, num_items = sizes[keys.USER_ID], sizes[keys.ITEM_ID]
    vocab = [v.decode() for v in tft_output.vocabulary_by_name(vocabulary_name(keys.ITEM_ID))]
    vocab_size = len(vocab)
    user_features: dict[str, np.ndarray] = {}
    trained_items: dict[str, np.ndarray] = {}
    counts = np.zeros(num_items, dtype=np.int64)
    pairs_u, pairs_i, pairs_t, pairs_r, rating_sum, rating_n = [], [], [], [], 0.0, 0
    for batch in batches:
        users, items = batch[keys.USER_ID], batch[keys.ITEM_ID]
        np.add.at(counts, items, 1)
        pairs_u.append(users)
        pairs_i.append(items)
        pairs_t.append(np.asarray(batch.get(keys.TIMESTAMP, np.zeros(len(users))), np.int64))
        _scatter(user_features, batch, spec.user_features(), users, num_users)
        _scatter(trained_items, batch, spec.item_features(), items, num_items)
        if keys.RATING in batch:
            pairs_r.append(np.asarray(batch[keys.RATING], np.float32))
            rating_sum += float(batch[keys.RATING].sum())
            rating_n += len(users)

    item_ids = list(vocab)
    item_features = {name: values[:vocab_size] for name, values in trained_items.items()}
    cold_rows: dict[str, list] = {name: [] for name in spec.item_features()}
    position = {item: i for i, item in enumerate(vocab)}
    for batch in catalog_batches:
        for name in spec.content_features():
            if name not in item_features:  # only catalog rows have items' content
                value = np.asarray(batch[name])
                item_features[name] = np.zeros((vocab_size, *value.shape[1:]), value.dtype)
        for row, key in enumerate(batch[keys.ITEM_KEY]):
            item = key.decode() if isinstance(key, bytes) else str(key)
            if item in position and position[item] < vocab_size:
                for name in spec.item_features():
                    item_features[name][position[item]] = batch[name][row]
            elif item not in position:
                position[item] = len(item_ids)
                item_ids.append(item)
                for name in spec.item_features():
                    cold_rows[name].append(batch[name][row])
    for name, shape in content_shapes(spec).items():
        if name not in item_features:  # no catalog rows: items have no text or image
            item_features[name] = np.zeros((vocab_size, *shape), np.int64)
    if len(item_ids) > vocab_size:
        for name, rows in cold_rows.items():
            item_features[name] = np.concatenate([item_features[name], np.stack(rows)])
    item_index = np.concatenate(
        [np.arange(vocab_size), np.full(len(item_ids) - vocab_size, vocab_size)]
    ).astype(np.int64)

    users = np.concatenate(pairs_u) if pairs_u else np.zeros(0, np.int64)
    items = np.concatenate(pairs_i) if pairs_i else np.zeros(0, np.int64)
    times = np.concatenate(pairs_t) if pairs_t else np.zeros(0, np.int64)
    rated = np.concatenate(pairs_r) if pairs_r else None
    pairs = seen_pairs(users, items, times, num_items, rated)
    in_vocab = pairs.items < vocab_size
    seen_users, seen_items = pairs.users[in_vocab], pairs.items[in_vocab]
    row_splits = np.searchsorted(seen_users, np.arange(num_users + 1)).astype(np.int64)
    candidate_counts = np.zeros(len(item_ids), dtype=np.int64)
    candidate_counts[:vocab_size] = counts[:vocab_size]
    first_seen = None
    if spec.has_timestamp and len(times):
        first_seen = first_appearance(items, times, len(item_ids))
    return Catalog(
        num_users=num_users,
        num_items=num_items,
        user_vocab_size=num_users - spec.oov_buckets,
        item_vocab_size=vocab_size,
        item_ids=np.array(item_ids, dtype=object),
        item_index=item_index,
        item_counts=candidate_counts,
        seen_row_splits=row_splits,
        seen_items=seen_items.astype(np.int64),
        seen_recency=pairs.recency[in_vocab],
        seen_ratings=pairs.ratings[in_vocab],
        user_features=user_features,
        item_features=item_features,
        rating_mean=rating_sum / rating_n if rating_n else 0.0,
        item_first_seen=first_seen,
    )


def first_appearance(items: np.ndarray, times: np.ndarray, size: int) -> np.ndarray:
    """Earliest time of each item index below `size` [size] (int64 seconds).

    Items without an interaction get the latest time: they are new as of the data's end.
    """
    times = np.asarray(times, np.int64)
    first = np.full(size, times.max() if len(times) else 0, dtype=np.int64)
    known = np.asarray(items, np.int64) < size
    np.minimum.at(first, np.asarray(items, np.int64)[known], times[known])
    return first


@dataclasses.dataclass(frozen=True)
class SeenPairs:
    """Distinct (user, item) pairs, sorted by user then item.

    Attributes:
      users, items: The pair's indices.
      recency: How many of the user's other pairs are more recent (0 = latest).
      ratings: The rating of the pair's latest interaction (0 without one).
    """

    users: np.ndarray
    items: np.ndarray
    recency: np.ndarray
    ratings: np.ndarray


def seen_pairs(
    users: np.ndarray,
    items: np.ndarray,
    times: np.ndarray,
    num_items: int,
    ratings: np.ndarray | None = None,
) -> SeenPairs:
    """The distinct pairs of some interactions, each with its recency rank and latest rating.

    A pair's time is its latest interaction; its rank counts the user's
    pairs with a later time (ties broken by item index, so ranks are distinct).
    """
    keys_ = users.astype(np.int64) * num_items + items.astype(np.int64)
    ratings = np.zeros(len(keys_), np.float32) if ratings is None else ratings
    order = np.lexsort((times, keys_))
    keys_, times, ratings = keys_[order], times[order], ratings[order]
    last = np.ones(len(keys_), dtype=bool)
    last[:-1] = keys_[1:] != keys_[:-1]
    pair_keys, pair_times = keys_[last], times[last]
    pair_users, pair_items = pair_keys // num_items, pair_keys % num_items
    newest_first = np.lexsort((-pair_items, -pair_times, pair_users))
    starts = np.searchsorted(pair_users[newest_first], pair_users[newest_first], side="left")
    recency = np.empty(len(pair_keys), dtype=np.int64)
    recency[newest_first] = np.arange(len(pair_keys)) - starts
    return SeenPairs(pair_users, pair_items, recency, ratings[last].astype(np.float32))


def _scatter(
    table: dict[str, np.ndarray],
    batch: Mapping[str, np.ndarray],
    columns: tuple[str, ...],
    index: np.ndarray,
    size: int,
) -> None:
    for name in columns:
        if name not in batch:  # item content, which interaction batches leave out
            continue
        values = np.asarray(batch[name])
        if name not in table:
            table[name] = np.zeros((size, *values.shape[1:]), dtype=values.dtype)
        table[name][index] = values
