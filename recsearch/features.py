"""Feature keys and the feature specification shared by Transform, Trainer and serving.

Raw examples carry the interaction columns under fixed names (`user_id`,
`item_id`, ...) and side columns as `user__<column>` / `item__<column>`. The
same names are kept after Transform. This module imports no TensorFlow, so the
command line and the data loaders can use it cheaply.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

USER_ID = "user_id"
ITEM_ID = "item_id"
RATING = "rating"
TIMESTAMP = "timestamp"
EVENT = "event"
WEIGHT = "weight"
# Candidate positions of retrieved items the user did not take, per training row:
# the ranking stage of a two-stage bundle learns against them (modules/two_stage.py).
HARD_NEGATIVES = "hard_negatives"
# Their retrieval scores, and the positive's first, standardised per user [rows, 1 + S].
RETRIEVAL_SCORES = "retrieval_scores"
# The same candidates' ages at the row's time, log(1 + days since the item's first
# interaction) [rows, 1 + S]: the ranking stage's freshness feature.
CANDIDATE_AGES = "candidate_ages"
SESSION = "session_id"
TEXT_VOCAB = "text_tokens"
IMAGE = "item__image"
ITEM_KEY = "item_key"
USER_PREFIX = "user__"
ITEM_PREFIX = "item__"


def side_feature(entity: str, column: str) -> str:
    """Raw feature name of a side column of "user" or "item"."""
    return f"{entity}__{column}"


def cross_feature(a: str, b: str) -> str:
    """Name of the hashed cross of two features."""
    return f"cross__{a}__{b}"


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """Which features exist and how Transform encodes them.

    All names are raw feature names. The spec travels to Transform and Trainer
    as `custom_config`, so it is recorded in ML Metadata with each run.
    """

    has_rating: bool = False
    has_timestamp: bool = False
    has_event: bool = False
    has_session: bool = False
    has_weight: bool = False
    user_categorical: tuple[str, ...] = ()
    user_hashed: tuple[str, ...] = ()
    user_numeric: tuple[str, ...] = ()
    item_categorical: tuple[str, ...] = ()
    item_hashed: tuple[str, ...] = ()
    item_numeric: tuple[str, ...] = ()
    item_text: tuple[str, ...] = ()
    item_image: bool = False
    image_size: int = 16
    crosses: tuple[tuple[str, str], ...] = ()
    min_frequency: int = 1
    oov_buckets: int = 1
    hash_buckets: int = 1000
    text_max_tokens: int = 16
    text_vocab_size: int = 20000

    @property
    def has_fields(self) -> bool:
        """Whether users or items have categorical, hashed or numeric side features."""
        return bool(
            self.user_categorical
            or self.user_hashed
            or self.user_numeric
            or self.item_categorical
            or self.item_hashed
            or self.item_numeric
        )

    @classmethod
    def from_config(cls, config: Any) -> FeatureSpec:
        """Derives the spec from a `recsearch.config.PipelineConfig`.

        Raises:
          ConfigError: A cross names a feature that is not categorical or hashed.
        """
        from recsearch.errors import ConfigError

        interactions, users, items, features = (
            config.interactions,
            config.users,
            config.items,
            config.features,
        )

        def names(source, entity, attr):
            return tuple(side_feature(entity, c) for c in getattr(source, attr)) if source else ()

        spec = cls(
            has_rating=bool(interactions.rating),
            has_timestamp=bool(interactions.timestamp),
            has_event=bool(interactions.event),
            has_session=bool(interactions.session),
            has_weight=bool(interactions.weight or interactions.event_weights),
            user_categorical=names(users, "user", "categorical"),
            user_hashed=names(users, "user", "hashed"),
            user_numeric=names(users, "user", "numeric"),
            item_categorical=names(items, "item", "categorical"),
            item_hashed=names(items, "item", "hashed"),
            item_numeric=names(items, "item", "numeric"),
            item_text=names(items, "item", "text"),
            item_image=bool(items and items.image),
            image_size=features.image_size,
            crosses=tuple(
                tuple(part.replace(".", "__", 1) for part in cross) for cross in features.crosses
            ),
            min_frequency=features.min_frequency,
            oov_buckets=features.oov_buckets,
            hash_buckets=features.hash_buckets,
            text_max_tokens=features.text_max_tokens,
            text_vocab_size=features.text_vocab_size,
        )
        crossable = set(spec.string_features()) | {USER_ID, ITEM_ID}
        for i, (a, b) in enumerate(spec.crosses):
            for part in (a, b):
                if part not in crossable:
                    raise ConfigError(
                        f"'features.crosses[{i}]' names {part.replace('__', '.', 1)!r}, which "
                        "is not a categorical or hashed user/item column"
                    )
        return spec

    def string_features(self) -> tuple[str, ...]:
        """Categorical and hashed side features."""
        return self.user_categorical + self.user_hashed + self.item_categorical + self.item_hashed

    def user_features(self) -> tuple[str, ...]:
        return self.user_categorical + self.user_hashed + self.user_numeric

    def item_features(self) -> tuple[str, ...]:
        image = (IMAGE,) if self.item_image else ()
        return self.item_categorical + self.item_hashed + self.item_numeric + self.item_text + image

    def content_features(self) -> tuple[str, ...]:
        """Item text and image: read once per item from the catalog, never per interaction.

        Interactions carry them empty; Transform encodes them for catalog rows
        only, and the Trainer puts each item's content on its interactions.
        """
        return self.item_text + ((IMAGE,) if self.item_image else ())

    def raw_types(self) -> dict[str, str]:
        """Raw feature name to its tf.Example type: "bytes", "float" or "int"."""
        types = {USER_ID: "bytes", ITEM_ID: "bytes"}
        if self.has_rating:
            types[RATING] = "float"
        if self.has_timestamp:
            types[TIMESTAMP] = "int"
        if self.has_event:
            types[EVENT] = "bytes"
        if self.has_session:
            types[SESSION] = "bytes"
        if self.has_weight:
            types[WEIGHT] = "float"
        for name in self.string_features() + self.item_text:
            types[name] = "bytes"
        for name in self.user_numeric + self.item_numeric:
            types[name] = "float"
        if self.item_image:
            types[IMAGE] = "bytes"
        return types

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict) -> FeatureSpec:
        data = json.loads(text) if isinstance(text, str) else dict(text)
        for field in dataclasses.fields(cls):
            value = data.get(field.name)
            if isinstance(value, list):
                data[field.name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        return cls(**data)
