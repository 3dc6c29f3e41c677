"""FeatureTower: embeds an entity's id and side features (categories, numbers, text, image)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from recsearch.modules.models import arguments
from recsearch.modules.models.encoders import ImageEncoder, TextEncoder


def side_embedding_dim(cardinality: int, limit: int) -> int:
    """Embedding width for a categorical feature: about 6 * cardinality^0.25, capped."""
    return int(max(4, min(limit, round(6 * cardinality**0.25))))


@tf.keras.utils.register_keras_serializable(package="recsearch")
class FeatureTower(tf.keras.layers.Layer):
    """Id embedding plus categorical, numeric, text and image features, then an MLP.

    Input: a dict of transformed features: ids, categories and numbers [B],
    text token ids [B, T] (0 = padding), image pixels [B, S, S, 3].
    Output: [B, output_dim].

    With only an id and no hidden layers the tower is a plain embedding
    lookup (matrix factorisation); otherwise the concatenated parts go
    through ReLU layers and a linear projection to `output_dim`.
    """

    def __init__(
        self,
        id_feature: str,
        cardinalities: Mapping[str, int],
        numeric: Sequence[str] = (),
        text: Sequence[str] = (),
        text_encoder: TextEncoder | None = None,
        image_feature: str | None = None,
        image_encoder: ImageEncoder | None = None,
        output_dim: int = 64,
        hidden_layers: Sequence[int] = (),
        normalize: bool = False,
        l2: float = 0.0,
        seed: int = 42,
        **kwargs,
    ):
        """Creates the tower.

        Args:
          id_feature: Name of the id feature; must be in `cardinalities`.
          cardinalities: Index-space size of the id and each categorical or
            hashed feature (vocabulary + OOV buckets).
          numeric: Names of numeric features.
          text: Names of token-id features, all read by `text_encoder`.
          text_encoder: Encoder of the text features (shared with search).
          image_feature: Name of the pixel feature, read by `image_encoder`.
          image_encoder: Encoder of the image (shared with search).
          output_dim: Width of the output vector.
          hidden_layers: Widths of ReLU layers before the output projection.
          normalize: L2-normalise the output.
          l2: L2 penalty on the embedding tables.
          seed: Initialiser seed.

        Raises:
          ValueError: On an inconsistent argument; the message shows the value.
        """
        super().__init__(**kwargs)
        if id_feature not in cardinalities:
            raise ValueError(
                f"id_feature {id_feature!r} is not in cardinalities {dict(cardinalities)}"
            )
        arguments.positive(**{f"cardinality of {n!r}": int(s) for n, s in cardinalities.items()})
        arguments.positive(output_dim=output_dim)
        if text and text_encoder is None:
            raise ValueError(f"text features {list(text)} need a text_encoder")
        if image_feature and image_encoder is None:
            raise ValueError(f"image feature {image_feature!r} needs an image_encoder")
        if any(w <= 0 for w in hidden_layers):
            raise ValueError(f"hidden_layers must be positive widths, got {list(hidden_layers)}")
        self.id_feature = id_feature
        self.cardinalities = {k: int(v) for k, v in cardinalities.items()}
        self.numeric = list(numeric)
        self.text = list(text)
        self.text_encoder = text_encoder
        self.image_feature = image_feature
        self.image_encoder = image_encoder
        self.output_dim = int(output_dim)
        self.hidden_layers = [int(w) for w in hidden_layers]
        self.normalize = bool(normalize)
        self.l2 = float(l2)
        self.seed = int(seed)

        regularizer = tf.keras.regularizers.l2(self.l2) if self.l2 else None
        self.embeddings = {}
        for i, (name, size) in enumerate(sorted(self.cardinalities.items())):
            width = self.output_dim if name == id_feature else side_embedding_dim(size, output_dim)
            self.embeddings[name] = tf.keras.layers.Embedding(
                size,
                width,
                embeddings_initializer=tf.keras.initializers.RandomNormal(
                    stddev=0.05, seed=self.seed + i
                ),
                embeddings_regularizer=regularizer,
                name=f"embedding_{name}",
            )
        self.is_plain_embedding = not (
            len(self.cardinalities) > 1
            or self.numeric
            or self.text
            or self.image_feature
            or self.hidden_layers
        )
        self.mlp = []
        if not self.is_plain_embedding:
            self.mlp = [
                tf.keras.layers.Dense(w, activation="relu", name=f"hidden_{j}")
                for j, w in enumerate(self.hidden_layers)
            ]
            self.mlp.append(tf.keras.layers.Dense(self.output_dim, name="projection"))

    def encode_text(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """Mean of the text encoder's vectors over the text features. [B, text dim]."""
        vectors = [self.text_encoder(features[name]) for name in self.text]
        return tf.add_n(vectors) / float(len(vectors))

    def encode_content(
        self, features: Mapping[str, tf.Tensor], by: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        """The text and image encoders' vectors: {"text": [B, text dim], "image": [B, image dim]}.

        Only the parts the tower has. `by`: a key per row ([B], the raw item id)
        that determines the row's content: each distinct key is encoded once
        and its vectors gathered back to its rows (a batch names popular items
        many times; the image encoder is most of a step's work).
        """
        names = [*self.text, *([self.image_feature] if self.image_feature else [])]
        if not names:
            return {}
        rows = None
        if by is not None:
            distinct, rows = tf.unique(tf.reshape(by, [-1]))
            first = tf.math.unsorted_segment_min(tf.range(tf.size(rows)), rows, tf.size(distinct))
            features = {name: tf.gather(features[name], first) for name in names}
        vectors = {}
        if self.text:
            vectors["text"] = self.encode_text(features)
        if self.image_feature:
            vectors["image"] = self.image_encoder(features[self.image_feature])
        if rows is not None:
            vectors = {part: tf.gather(v, rows) for part, v in vectors.items()}
        return vectors

    # Nothing here branches on tensor values; skipping AutoGraph's source
    # conversion of the Keras layers below saves seconds on the first step.
    @tf.autograph.experimental.do_not_convert
    def call(
        self,
        features: Mapping[str, tf.Tensor],
        training: bool | None = None,
        content: Mapping[str, tf.Tensor] | None = None,
    ) -> tf.Tensor:
        """The tower's vectors; `content`: `encode_content`'s, when the caller has them."""
        parts = [self.embeddings[name](features[name]) for name in sorted(self.cardinalities)]
        if self.numeric:
            parts.append(tf.stack([tf.cast(features[n], tf.float32) for n in self.numeric], axis=1))
        if content is None:
            content = self.encode_content(features)
        if self.text:
            parts.append(content["text"])
        if self.image_feature:
            parts.append(content["image"])
        x = parts[0] if self.is_plain_embedding else tf.concat(parts, axis=1)
        for layer in self.mlp:
            x = layer(x)
        if self.normalize:
            x = tf.math.l2_normalize(x, axis=1)
        return x

    @property
    def feature_names(self) -> list[str]:
        """Every input feature the tower reads."""
        image = [self.image_feature] if self.image_feature else []
        return sorted(self.cardinalities) + self.numeric + self.text + image

    def get_config(self) -> dict:
        def layer_config(layer):
            return None if layer is None else tf.keras.layers.serialize(layer)

        return {
            **super().get_config(),
            "id_feature": self.id_feature,
            "cardinalities": self.cardinalities,
            "numeric": self.numeric,
            "text": self.text,
            "text_encoder": layer_config(self.text_encoder),
            "image_feature": self.image_feature,
            "image_encoder": layer_config(self.image_encoder),
            "output_dim": self.output_dim,
            "hidden_layers": self.hidden_layers,
            "normalize": self.normalize,
            "l2": self.l2,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict) -> FeatureTower:
        config = dict(config)
        for key in ("text_encoder", "image_encoder"):
            if config.get(key) is not None:
                config[key] = tf.keras.layers.deserialize(config[key])
        return cls(**config)
