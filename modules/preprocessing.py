"""The Transform `preprocessing_fn`: one encoding for training, evaluation and serving.

Ids and categorical features get vocabularies (with a frequency threshold and
OOV buckets), high-cardinality features and crosses are hashed, text fields
are tokenised against one shared token vocabulary, and numbers are normalised.
Output features keep their raw names.
"""

from __future__ import annotations

from typing import Any

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
    tokens: tf.RaggedTensor, vocabulary: Any, max_tokens: int, oov_buckets: int
) -> tf.Tensor:
    """Token ids shifted by one so 0 is padding, as a dense [B, max_tokens] int64."""
    ids = tft.apply_vocabulary(tokens.flat_values, vocabulary, num_oov_buckets=oov_buckets)
    ids = tokens.with_flat_values(ids + 1)
    return ids.to_tensor(default_value=TEXT_PAD, shape=[None, max_tokens])


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


def preprocessing_fn(inputs: dict[str, Any], custom_config: dict[str, Any]) -> dict[str, Any]:
    """Transform's entry point.

    Args:
      inputs: Raw features, as parsed with the schema.
      custom_config: {"features": FeatureSpec JSON}.

    Returns:
      Transformed features: int64 ids and categories [B], hashed buckets [B],
      float32 numbers [B], text token ids [B, text_max_tokens], the rating
      (0 where missing) and the timestamp.
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

    # TFT warns that a threshold of 1 is a no-op; None says the same quietly.
    threshold = spec.min_frequency if spec.min_frequency > 1 else None
    outputs: dict[str, Any] = {}
    vocab_features = (keys.USER_ID, keys.ITEM_ID, *spec.user_categorical, *spec.item_categorical)
    for name in vocab_features:
        outputs[name] = tft.compute_and_apply_vocabulary(
            strings[name],
            frequency_threshold=threshold,
            num_oov_buckets=spec.oov_buckets,
            vocab_filename=vocabulary_name(name),
        )
    if has_event:
        outputs[keys.EVENT] = tft.compute_and_apply_vocabulary(
            strings[keys.EVENT], num_oov_buckets=1, vocab_filename=vocabulary_name(keys.EVENT)
        )
    for name in spec.user_hashed + spec.item_hashed:
        outputs[name] = tf.strings.to_hash_bucket_fast(strings[name], spec.hash_buckets)
    for a, b in spec.crosses:
        joined = tf.strings.join([strings[a], strings[b]], separator="\x1f")
        outputs[keys.cross_feature(a, b)] = tf.strings.to_hash_bucket_fast(
            joined, spec.hash_buckets
        )
    for name in spec.user_numeric + spec.item_numeric:
        outputs[name] = tft.scale_to_z_score(to_dense(inputs[name], default=0.0))

    if spec.item_text:
        tokens = {name: tokenize(strings[name], spec.text_max_tokens) for name in spec.item_text}
        all_tokens = tf.concat([t.flat_values for t in tokens.values()], axis=0)
        vocabulary = tft.vocabulary(
            all_tokens,
            top_k=spec.text_vocab_size,
            frequency_threshold=threshold,
            vocab_filename=keys.TEXT_VOCAB,
        )
        for name, t in tokens.items():
            outputs[name] = apply_text_vocabulary(
                t, vocabulary, spec.text_max_tokens, spec.oov_buckets
            )
    if spec.item_image:
        images = to_dense(inputs[keys.IMAGE], default="")
        outputs[keys.IMAGE] = decode_images(images, spec.image_size)
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
