"""The Transform `preprocessing_fn`: one encoding for training, evaluation and serving.

Ids and categorical features get vocabularies (with a frequency threshold and
OOV buckets), high-cardinality features and crosses are hashed, text fields
are tokenised against one shared token vocabulary, and numbers are normalised.
Output features keep their raw names.

Item content (text and images) is read once per item: interactions carry it
empty and only the catalog split's rows (one per item, with an empty user id)
have it. Transform analyzes the catalog beside the interactions, but each
analyzer sees only its own rows: ids, categories and numbers are learnt from
interactions as before, the token vocabulary from each item's text once. The
content outputs are sparse, empty on interaction rows (`dense_content` gives
the models' dense shapes; the Trainer puts each item's content on its
interactions, `training_data.ItemContent`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch.features import FeatureSpec

TEXT_PAD = 0


def vocabulary_name(feature: str) -> str:
    """File name of a feature's vocabulary in the transform graph."""
    return feature


def to_dense(value: Any, default: Any) -> tf.Tensor:
    """A [B] tensor from a dense [B] / [B, 1] tensor or a [B, <=1] SparseTensor."""
    if isinstance(value, tf.SparseTensor):
        batch = tf.shape(value, out_type=tf.int64)[0]
        value = tf.sparse.reset_shape(value, tf.stack([batch, tf.constant(1, tf.int64)]))
        value = tf.sparse.to_dense(value, default_value=default)
    if value.shape.rank == 2:
        value = tf.squeeze(value, axis=1)
    return value


def tokenize(text: tf.Tensor, max_tokens: int) -> tf.RaggedTensor:
    """Lower-cased word tokens, at most `max_tokens` per string. [B] -> ragged [B, None]."""
    text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"[^\p{L}\p{N}]+", " ")
    return tf.strings.split(text)[:, :max_tokens]


def apply_text_vocabulary(
    tokens: tf.RaggedTensor, vocabulary: Any, oov_buckets: int
) -> tf.SparseTensor:
    """Token ids shifted by one so 0 is padding, as a [B, <= max_tokens] int64 SparseTensor."""
    ids = tft.apply_vocabulary(tokens.flat_values, vocabulary, num_oov_buckets=oov_buckets)
    return tokens.with_flat_values(ids + 1).to_sparse()


def _z_score(x: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """`x` less the mean over `rows`, over their standard deviation (when it is not 0)."""
    kept = tf.boolean_mask(x, rows)
    centred = x - tft.mean(kept)
    std = tf.sqrt(tft.var(kept))
    return tf.where(std > 0, centred / tf.where(std > 0, std, 1.0), centred)


def decode_images(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """PNG/JPEG/GIF/BMP bytes [B] -> uint8 pixels as int64 [B, size, size, 3].

    Empty bytes give a black image. Pixels stay integers so a transformed
    example carries one byte-sized varint per channel, not a float.
    """

    def decode(one: tf.Tensor) -> tf.Tensor:
        def image() -> tf.Tensor:
            pixels = tf.io.decode_image(one, channels=3, expand_animations=False)
            resized = tf.image.resize(pixels, [size, size], antialias=True)
            return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.int64)

        return tf.cond(
            tf.strings.length(one) > 0, image, lambda: tf.zeros([size, size, 3], tf.int64)
        )

    return tf.map_fn(decode, encoded, fn_output_signature=tf.TensorSpec([size, size, 3], tf.int64))


def _rows_of(values: tf.Tensor, rows: tf.Tensor, batch: tf.Tensor) -> tf.SparseTensor:
    """[n, width] values placed at `rows` of a [batch, width] SparseTensor (other rows empty)."""
    width = tf.shape(values, out_type=tf.int64)[1]
    count = tf.shape(values, out_type=tf.int64)[0]
    indices = tf.stack(
        [tf.repeat(rows, width), tf.tile(tf.range(width, dtype=tf.int64), [count])], axis=1
    )
    return tf.SparseTensor(indices, tf.reshape(values, [-1]), tf.stack([batch, width]))


def sparse_images(encoded: tf.Tensor, size: int) -> tf.SparseTensor:
    """Image bytes [B] -> flat pixels [B, size * size * 3], decoded only where bytes are given."""
    present = tf.where(tf.strings.length(encoded) > 0)[:, 0]
    pixels = decode_images(tf.gather(encoded, present), size)
    batch = tf.shape(encoded, out_type=tf.int64)[0]
    return _rows_of(tf.reshape(pixels, [-1, size * size * 3]), present, batch)


def content_shapes(spec: FeatureSpec) -> dict[str, tuple[int, ...]]:
    """Each content feature's shape per row as the models take it."""
    shapes = {name: (spec.text_max_tokens,) for name in spec.item_text}
    if spec.item_image:
        shapes[keys.IMAGE] = (spec.image_size, spec.image_size, 3)
    return shapes


def dense_content(
    features: Mapping[str, Any], shapes: Mapping[str, Sequence[int]]
) -> dict[str, Any]:
    """Transformed features with the content ones (`content_shapes`) dense.

    Text token ids [B, text_max_tokens] (0 = padding) and pixels
    [B, image_size, image_size, 3] (black where a row has none).
    """
    out = dict(features)
    for name, shape in shapes.items():
        value = out.get(name)
        if not isinstance(value, tf.SparseTensor):
            continue
        width = int(np.prod(shape))
        batch = tf.shape(value, out_type=tf.int64)[0]
        value = tf.sparse.reset_shape(value, tf.stack([batch, tf.constant(width, tf.int64)]))
        out[name] = tf.reshape(tf.sparse.to_dense(value), [-1, *shape])
    return out


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """Transform's entry point.

    Args:
      inputs: Raw features, as parsed with the schema.
      custom_config: {"features": FeatureSpec JSON}.

    Returns:
      Transformed features: int64 ids and categories [B], hashed buckets [B],
      float32 numbers [B], text token ids [B, <= text_max_tokens] and flat
      pixels [B, image_size * image_size * 3] as SparseTensors with values on
      catalog rows only (see `dense_content`), the rating (0 where missing)
      and the timestamp.
    """
    spec = FeatureSpec.from_json(custom_config["features"])
    strings = {
        name: to_dense(inputs[name], default="")
        for name in (keys.USER_ID, keys.ITEM_ID, *spec.string_features(), *spec.item_text)
    }
    # Optional columns may be absent from the schema (SchemaGen deprecates a
    # feature that is empty in some split), so each is used only when parsed.
    has_event = spec.has_event and keys.EVENT in inputs
    if has_event:
        strings[keys.EVENT] = to_dense(inputs[keys.EVENT], default="")

    # Catalog rows (one per item, empty user id) carry items' content; every
    # other analyzer learns from the interactions alone, as without a catalog.
    interactions = tf.not_equal(strings[keys.USER_ID], "")
    # TFT warns that a threshold of 1 is a no-op; None says the same quietly.
    threshold = spec.min_frequency if spec.min_frequency > 1 else None
    outputs: dict[str, Any] = {}

    def vocabulary(name: str, oov_buckets: int, frequency_threshold: int | None) -> Any:
        """compute_and_apply_vocabulary, learnt from the interaction rows only."""
        learnt = tft.vocabulary(
            tf.boolean_mask(strings[name], interactions),
            frequency_threshold=frequency_threshold,
            vocab_filename=vocabulary_name(name),
        )
        return tft.apply_vocabulary(strings[name], learnt, num_oov_buckets=oov_buckets)

    vocab_features = (keys.USER_ID, keys.ITEM_ID, *spec.user_categorical, *spec.item_categorical)
    for name in vocab_features:
        outputs[name] = vocabulary(name, spec.oov_buckets, threshold)
    if has_event:
        outputs[keys.EVENT] = vocabulary(keys.EVENT, 1, None)
    for name in spec.user_hashed + spec.item_hashed:
        outputs[name] = tf.strings.to_hash_bucket_fast(strings[name], spec.hash_buckets)
    for a, b in spec.crosses:
        joined = tf.strings.join([strings[a], strings[b]], separator="\x1f")
        outputs[keys.cross_feature(a, b)] = tf.strings.to_hash_bucket_fast(
            joined, spec.hash_buckets
        )
    for name in spec.user_numeric + spec.item_numeric:
        outputs[name] = _z_score(to_dense(inputs[name], default=0.0), interactions)

    if spec.item_text:
        tokens = {name: tokenize(strings[name], spec.text_max_tokens) for name in spec.item_text}
        items = tf.logical_not(interactions)
        all_tokens = tf.concat(
            [tf.ragged.boolean_mask(t, items).flat_values for t in tokens.values()], axis=0
        )
        text_vocabulary = tft.vocabulary(
            all_tokens,
            top_k=spec.text_vocab_size,
            frequency_threshold=threshold,
            vocab_filename=keys.TEXT_VOCAB,
        )
        for name, t in tokens.items():
            outputs[name] = apply_text_vocabulary(t, text_vocabulary, spec.oov_buckets)
    if spec.item_image:
        images = to_dense(inputs[keys.IMAGE], default="")
        outputs[keys.IMAGE] = sparse_images(images, spec.image_size)
    # The raw item id, so the Trainer can line catalog items up with the vocabulary.
    outputs[keys.ITEM_KEY] = strings[keys.ITEM_ID]
    if spec.has_rating and keys.RATING in inputs:
        outputs[keys.RATING] = tf.cast(to_dense(inputs[keys.RATING], default=0.0), tf.float32)
    if spec.has_weight and keys.WEIGHT in inputs:
        # An interaction without a weight (and a catalog row) counts 1.
        outputs[keys.WEIGHT] = tf.cast(to_dense(inputs[keys.WEIGHT], default=1.0), tf.float32)
    if spec.has_timestamp and keys.TIMESTAMP in inputs:
        outputs[keys.TIMESTAMP] = to_dense(inputs[keys.TIMESTAMP], default=0)
    return outputs
