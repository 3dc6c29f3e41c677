"""Approximate nearest-neighbour index over the candidate vectors (ScaNN via TFRS).

A bundle always serves exact (brute-force) top-K. When the config asks for
ScaNN, the Trainer also exports a companion SavedModel whose `recommend`,
`similar_items` and `search_*` use a ScaNN index, under
`<version>/assets.extra/scann/`. TF Serving ignores that directory, so a stock
server keeps serving the exact bundle (ScaNN's ops need a ScaNN-enabled TF
Serving build); `recsearch serve` and `bundle.load` use the companion when
the `scann` package can be imported.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class IndexParams:
    """ScaNN settings; 0 picks a value from the catalog size.

    The defaults: about 2 sqrt(N) partitions, 20% of them searched, the best
    3,000 re-scored exactly (figures on 1M vectors in docs/benchmarks.md).
    """

    num_leaves: int = 0
    num_leaves_to_search: int = 0
    reorder: int = 0

    def resolved(self, num_items: int, fetch_k: int) -> tuple[int, int, int]:
        leaves = self.num_leaves or max(2, min(num_items // 20, int(2 * math.sqrt(num_items))))
        leaves = min(leaves, num_items)
        search = self.num_leaves_to_search or max(2, int(0.2 * leaves))
        reorder = self.reorder or max(3000, 4 * fetch_k)
        return leaves, min(search, leaves), min(max(reorder, fetch_k), num_items)


def build_index(candidates: np.ndarray, fetch_k: int, params: IndexParams) -> tf.keras.layers.Layer:
    """A ScaNN layer over `candidates` [N, D] returning (scores, positions) of the top `fetch_k`.

    Raises:
      ImportError: The scann package is not installed.
    """
    import tensorflow_recommenders as tfrs

    n = candidates.shape[0]
    leaves, search, reorder = params.resolved(n, fetch_k)
    layer = tfrs.layers.factorized_top_k.ScaNN(
        k=min(fetch_k, n),
        distance_measure="dot_product",
        num_leaves=leaves,
        num_leaves_to_search=search,
        num_reordering_candidates=reorder,
        parallelize_batch_searches=True,
    )
    return layer.index(tf.constant(candidates, tf.float32))
