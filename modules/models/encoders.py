"""Content encoders: token ids to a text vector, pixels to an image vector."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

TEXT_KINDS = ("bag", "cnn")
IMAGE_KINDS = ("cnn", "backbone")


@tf.keras.utils.register_keras_serializable(package="recsearch")
class TextEncoder(tf.keras.layers.Layer):
    """Token ids [B, T] (0 = padding) -> [B, output_dim].

    "bag": the mean of the token embeddings. "cnn": a Kim-style 1-D CNN,
    one convolution per kernel size, ReLU, max over time, concatenated.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int = 32,
        kind: str = "bag",
        filters: int = 32,
        kernel_sizes: tuple[int, ...] = (2, 3, 4),
        pretrained: np.ndarray | list | None = None,
        **kwargs,
    ):
        """Creates the encoder.

        Args:
          vocab_size: Token-id space, padding included.
          dim: Token embedding width.
          kind: "bag" or "cnn".
          filters: Filters per kernel size ("cnn").
          kernel_sizes: Convolution widths ("cnn").
          pretrained: Optional initial embeddings [vocab_size, dim] (for
            example GloVe vectors looked up for the vocabulary).

        Raises:
          ValueError: On an unknown kind, a bad size, or a pretrained matrix
            of the wrong shape.
        """
        super().__init__(**kwargs)
        if kind not in TEXT_KINDS:
            raise ValueError(f"kind must be one of {TEXT_KINDS}, got {kind!r}")
        if vocab_size <= 1 or dim <= 0:
            raise ValueError(f"need vocab_size > 1 and dim > 0, got {vocab_size} and {dim}")
        initializer = "uniform"
        if pretrained is not None:
            pretrained = np.asarray(pretrained, dtype=np.float32)
            if pretrained.shape != (vocab_size, dim):
                raise ValueError(
                    f"pretrained embeddings have shape {pretrained.shape}, "
                    f"expected {(vocab_size, dim)}"
                )
            initializer = tf.keras.initializers.Constant(pretrained)
        self.vocab_size, self.dim, self.kind = int(vocab_size), int(dim), kind
        self.filters, self.kernel_sizes = int(filters), tuple(int(k) for k in kernel_sizes)
        self.embedding = tf.keras.layers.Embedding(
            self.vocab_size, self.dim, embeddings_initializer=initializer, name="tokens"
        )
        self.convolutions = []
        if kind == "cnn":
            self.convolutions = [
                tf.keras.layers.Conv1D(self.filters, k, padding="same", activation="relu")
                for k in self.kernel_sizes
            ]

    @property
    def output_dim(self) -> int:
        return self.dim if self.kind == "bag" else self.filters * len(self.kernel_sizes)

    @tf.autograph.experimental.do_not_convert
    def call(self, tokens: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        mask = tf.cast(tf.not_equal(tokens, 0), tf.float32)[..., None]
        vectors = self.embedding(tokens) * mask
        if self.kind == "bag":
            return tf.reduce_sum(vectors, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        # Padding positions are pushed down before the max, so they never win.
        pooled = [
            tf.reduce_max(conv(vectors) * mask - (1 - mask) * 1e4, axis=1)
            for conv in self.convolutions
        ]
        return tf.maximum(tf.concat(pooled, axis=1), 0.0)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "dim": self.dim,
            "kind": self.kind,
            "filters": self.filters,
            "kernel_sizes": list(self.kernel_sizes),
        }


@tf.keras.utils.register_keras_serializable(package="recsearch")
class ImageEncoder(tf.keras.layers.Layer):
    """Pixels [B, S, S, 3] (0-255) -> [B, output_dim].

    "cnn": a small CNN trained here. "backbone": a pretrained Keras model
    loaded from a local file (for example a VGG16 or MobileNet saved with
    `model.save`), frozen, followed by a trained projection.
    """

    def __init__(
        self,
        kind: str = "cnn",
        output_dim: int = 32,
        backbone_path: str | None = None,
        **kwargs,
    ):
        """Creates the encoder.

        Raises:
          ValueError: On an unknown kind, or "backbone" without a path.
        """
        super().__init__(**kwargs)
        if kind not in IMAGE_KINDS:
            raise ValueError(f"kind must be one of {IMAGE_KINDS}, got {kind!r}")
        if kind == "backbone" and not backbone_path:
            raise ValueError("kind 'backbone' needs backbone_path (a local Keras model file)")
        self.kind, self.backbone_path = kind, backbone_path
        self._output_dim = int(output_dim)
        if kind == "cnn":
            self.layers_ = [
                tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                tf.keras.layers.MaxPool2D(),
                tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
                tf.keras.layers.GlobalAveragePooling2D(),
            ]
        else:
            backbone = tf.keras.models.load_model(backbone_path, compile=False)
            backbone.trainable = False
            self.layers_ = [backbone, tf.keras.layers.Flatten()]
        self.projection = tf.keras.layers.Dense(self._output_dim, activation="relu")

    @property
    def output_dim(self) -> int:
        return self._output_dim

    @tf.autograph.experimental.do_not_convert
    def call(self, images: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        x = tf.cast(images, tf.float32) / 255.0
        for layer in self.layers_:
            x = layer(x)
        return self.projection(x)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "kind": self.kind,
            "output_dim": self._output_dim,
            "backbone_path": self.backbone_path,
        }


def read_word_vectors(
    path: str, vocabulary: list[str], size: int, dim: int | None = None
) -> np.ndarray:
    """Embeddings [size, dim] for token ids [padding, *vocabulary, OOV...] from a GloVe file.

    Tokens missing from the file, and OOV buckets, get small random vectors.

    Raises:
      ValueError: The file is empty, or its vectors are not `dim` wide.
    """
    wanted = {token: i + 1 for i, token in enumerate(vocabulary)}
    found: dict[int, np.ndarray] = {}
    width = dim
    with tf.io.gfile.GFile(path) as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip().split(" ")
            if len(parts) < 2:
                continue
            width = width or len(parts) - 1
            if len(parts) - 1 != width:
                got = len(parts) - 1
                raise ValueError(f"{path}, line {number}: expected {width} values, got {got}")
            if parts[0] in wanted:
                found[wanted[parts[0]]] = np.asarray(parts[1:], dtype=np.float32)
    if width is None:
        raise ValueError(f"{path}: no word vectors")
    rng = np.random.default_rng(0)
    matrix = rng.normal(0, 0.05, (size, width)).astype(np.float32)
    matrix[0] = 0.0
    for index, vector in found.items():
        matrix[index] = vector
    return matrix
