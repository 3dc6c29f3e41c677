"""FeatureTower: embeds an entity's id and side features into one vector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf


def side_embedding_dim(cardinality: int, limit: int) -> int:
    """Embedding width for a categorical feature: about 6 * cardinality^0.25, capped."""
    return int(max(4, min(limit, round(6 * cardinality**0.25))))


@tf.keras.utils.register_keras_serializable(package="recsearch")
class FeatureTower(tf.keras.layers.Layer):
    """Id embedding plus categorical, numeric and text features, then an MLP.

    Input: a dict of transformed features, each [B] (ids, categories, numbers)
    or [B, T] (text token ids, 0 = padding). Output: [B, output_dim].

    With only an id and no hidden layers the tower is a plain embedding
    lookup (matrix factorisation); otherwise the concatenated embeddings go
    through ReLU layers and a linear projection to `output_dim`.
    """

    def __init__(
        self,
        id_feature: str,
        cardinalities: Mapping[str, int],
        numeric: Sequence[str] = (),
        text: Sequence[str] = (),
        text_vocab_size: int = 0,
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
          text: Names of token-id features sharing one token embedding.
          text_vocab_size: Size of the token-id space, padding included.
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
        for name, size in cardinalities.items():
            if int(size) <= 0:
                raise ValueError(f"cardinality of {name!r} must be positive, got {size}")
        if output_dim <= 0:
            raise ValueError(f"output_dim must be positive, got {output_dim}")
        if text and text_vocab_size <= 1:
            raise ValueError(f"text features need text_vocab_size > 1, got {text_vocab_size}")
        if any(w <= 0 for w in hidden_layers):
            raise ValueError(f"hidden_layers must be positive widths, got {list(hidden_layers)}")
        self.id_feature = id_feature
        self.cardinalities = {k: int(v) for k, v in cardinalities.items()}
        self.numeric = list(numeric)
        self.text = list(text)
        self.text_vocab_size = int(text_vocab_size)
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
        self.token_embedding = None
        if self.text:
            self.token_embedding = tf.keras.layers.Embedding(
                self.text_vocab_size,
                side_embedding_dim(self.text_vocab_size, output_dim),
                mask_zero=True,
                embeddings_regularizer=regularizer,
                name="embedding_text_tokens",
            )
        self.is_plain_embedding = not (
            len(self.cardinalities) > 1 or self.numeric or self.text or self.hidden_layers
        )
        self.mlp = []
        if not self.is_plain_embedding:
            self.mlp = [
                tf.keras.layers.Dense(w, activation="relu", name=f"hidden_{j}")
                for j, w in enumerate(self.hidden_layers)
            ]
            self.mlp.append(tf.keras.layers.Dense(self.output_dim, name="projection"))

    # Nothing here branches on tensor values; skipping AutoGraph's source
    # conversion of the Keras layers below saves seconds on the first step.
    @tf.autograph.experimental.do_not_convert
    def call(self, features: Mapping[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
        parts = [self.embeddings[name](features[name]) for name in sorted(self.cardinalities)]
        if self.numeric:
            parts.append(tf.stack([tf.cast(features[n], tf.float32) for n in self.numeric], axis=1))
        for name in self.text:
            tokens = features[name]
            vectors = self.token_embedding(tokens)
            mask = tf.cast(tf.not_equal(tokens, 0), tf.float32)[..., None]
            count = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
            parts.append(tf.reduce_sum(vectors * mask, axis=1) / count)
        x = parts[0] if self.is_plain_embedding else tf.concat(parts, axis=1)
        for layer in self.mlp:
            x = layer(x)
        if self.normalize:
            x = tf.math.l2_normalize(x, axis=1)
        return x

    @property
    def feature_names(self) -> list[str]:
        """Every input feature the tower reads."""
        return sorted(self.cardinalities) + self.numeric + self.text

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "id_feature": self.id_feature,
            "cardinalities": self.cardinalities,
            "numeric": self.numeric,
            "text": self.text,
            "text_vocab_size": self.text_vocab_size,
            "output_dim": self.output_dim,
            "hidden_layers": self.hidden_layers,
            "normalize": self.normalize,
            "l2": self.l2,
            "seed": self.seed,
        }
