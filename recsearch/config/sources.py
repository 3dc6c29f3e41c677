"""The data sections of the config: the tables, the split, the features."""

from __future__ import annotations

import dataclasses
from typing import Literal

Format = Literal["csv", "tsv", "parquet", "jsonl"]


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a table lives and how to read it.

    Attributes:
      path: A file path or glob. Relative paths are relative to the config file.
      format: csv, tsv, parquet or jsonl; inferred from the extension when unset.
      sep: Field separator for csv/tsv (default "," for csv, tab for tsv).
      header: Whether csv/tsv files start with a header row.
      columns: Column names for files without a header row.
      encoding: Text encoding of csv/tsv/jsonl files.
      na_values: Cells that mean "no value" besides an empty cell (compared
        after trimming spaces): such a numeric cell is missing, such an id an
        error. [] keeps only empty cells as missing.
    """

    path: str
    format: Format | None = None
    sep: str | None = None
    header: bool = True
    columns: tuple[str, ...] = ()
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ("NA", "N/A", "null")


@dataclasses.dataclass(frozen=True)
class InteractionsSource(Source):
    """The interaction log: one row per user-item event.

    Attributes:
      user: Column holding the user id.
      item: Column holding the item id.
      rating: Column holding an explicit rating (empty cells allowed).
      timestamp: Column holding the event time: unix seconds, unix
        milliseconds (told apart by magnitude) or ISO 8601; anything else
        needs `timestamp_format`.
      timestamp_format: A strptime format for text times that are not ISO
        8601, for example "%d/%m/%Y %H:%M" (day-first dates are never guessed).
      event: Column holding the event type (for example view, cart, purchase).
      session: Column holding a session id.
      weight: Column holding how much an interaction counts (a quantity, a
        dwell time): a number of at least 0, empty cells count 1. It weights
        the training loss of the models that take sample weights.
      event_weights: Event type -> how much it counts, for example
        {purchase: 1.0, cart: 0.3, view: 0.05}: the objective follows the
        outcome the shop wants. Multiplies `weight`; needs `event`, and every
        event type in the log must be listed.
      span_window: With a `{SPAN}` path, how many spans up to the selected
        one are read (1: only that span).
    """

    user: str = "user_id"
    item: str = "item_id"
    rating: str | None = None
    timestamp: str | None = None
    timestamp_format: str | None = None
    event: str | None = None
    session: str | None = None
    weight: str | None = None
    event_weights: dict[str, float] = dataclasses.field(default_factory=dict)
    span_window: int = 1


@dataclasses.dataclass(frozen=True)
class EntitySource(Source):
    """A side table of users or items, keyed by id.

    Attributes:
      id: Column holding the user or item id (joined to the interactions).
      categorical: Low-cardinality string columns, encoded with a vocabulary.
      hashed: High-cardinality string columns, encoded by feature hashing.
      numeric: Number columns, normalised to zero mean and unit variance.
      text: Free-text columns, tokenised with a vocabulary.
      image: Column holding an image file path (relative to the table's folder).
    """

    id: str = "id"
    categorical: tuple[str, ...] = ()
    hashed: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    image: str | None = None


@dataclasses.dataclass(frozen=True)
class Split:
    """How interactions are split into train and eval.

    Attributes:
      method: "temporal" holds out each user's latest interactions; "random"
        holds out a random fraction of each user's interactions; "auto"
        (the default) is temporal when the interactions have a timestamp
        column and random when they have none.
      eval_fraction: Fraction of each user's interactions held out.
      seed: Random seed of the random split.
      drop_unseen_items: Drop eval rows whose item never occurs in train.
    """

    method: Literal["auto", "temporal", "random"] = "auto"
    eval_fraction: float = 0.2
    seed: int = 42
    drop_unseen_items: bool = True


@dataclasses.dataclass(frozen=True)
class Features:
    """Feature engineering done in Transform.

    Attributes:
      min_frequency: Ids and categories seen fewer times in train map to OOV.
      oov_buckets: Number of out-of-vocabulary buckets per vocabulary.
      hash_buckets: Buckets of hashed columns and crosses.
      crosses: Pairs of categorical or hashed features crossed by hashing,
        written as "user.country" / "item.publisher".
      text_max_tokens: Tokens kept per text field.
      text_vocab_size: Largest text token vocabulary.
      image_size: Images are decoded and resized to this many pixels square.
    """

    min_frequency: int = 1
    oov_buckets: int = 1
    hash_buckets: int = 1000
    crosses: tuple[tuple[str, ...], ...] = ()
    text_max_tokens: int = 16
    text_vocab_size: int = 20000
    image_size: int = 16
