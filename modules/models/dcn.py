"""DCN-v2 (Wang et al., 2021): explicit feature crosses, then a deep network (stacked).

Each cross layer computes x_{l+1} = x_0 * (W_l x_l + b_l) + x_l over the
concatenated field vectors x_0, so layer l models feature interactions of
degree l + 1; an MLP and a linear output follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import tensorflow as tf

from recsearch.model_registry import positive, register
from recsearch.modules.models import arguments
from recsearch.modules.models.pair_scorer import (
    DEFAULT_HIDDEN,
    PairScorer,
    PairSettings,
    apply,
    flatten,
    mlp,
    pair_family,
)


class CrossLayer(tf.keras.layers.Layer):
    """x0 * (W x + b) + x, with a full-rank W."""

    def build(self, input_shape):
        width = int(input_shape[-1])
        self.dense = tf.keras.layers.Dense(width, name="cross")
        self.dense.build(input_shape)
        super().build(input_shape)

    def call(self, x0: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        return x0 * self.dense(x) + x


class DCN(PairScorer):
    def __init__(
        self,
        *args,
        hidden_layers: Sequence[int] = DEFAULT_HIDDEN,
        num_cross_layers: int = 2,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        arguments.positive(num_cross_layers=num_cross_layers)
        self.crosses = [CrossLayer(name=f"cross_{i}") for i in range(num_cross_layers)]
        self.deep = mlp(tuple(hidden_layers) or DEFAULT_HIDDEN, "deep")
        self.output_layer = tf.keras.layers.Dense(1, name="dcn_output")

    def interact(self, user: tf.Tensor, item: tf.Tensor, linear: tf.Tensor) -> tf.Tensor:
        x0 = flatten(tf.concat([user, item], axis=1))
        x = x0
        for cross in self.crosses:
            x = cross(x0, x)
        return tf.squeeze(self.output_layer(apply(self.deep, x)), axis=1)


@dataclasses.dataclass(frozen=True)
class DCNSettings(PairSettings):
    """DCN-v2's settings: a pair network's, and `cross_layers`, its number of cross layers."""

    cross_layers: int = 2

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "cross_layers")]


FAMILY = register(pair_family("dcn", DCNSettings, DCN, num_cross_layers="cross_layers"))
