"""`recsearch bench ann`: ScaNN against brute force on synthetic embeddings.

Catalogs of 10k, 100k and 1M items with 64-d vectors drawn around 1,000
cluster centres (learned item embeddings are clustered; uniform noise would
be the worst case for any index), queries from the same distribution. Both
sides are the layers the serving bundle uses: `tf.matmul` + `tf.math.top_k`
for brute force, and `recsearch.modules.ann.build_index` (TFRS ScaNN).
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from recsearch.modules.ann import IndexParams, build_index

DIM = 64
K = 10


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    labels = rng.integers(0, len(centres), n)
    vectors = centres[labels] + 0.35 * rng.normal(size=(n, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _per_query_ms(search, queries: np.ndarray) -> tuple[float, float, float]:
    timings = []
    for q in queries:
        started = time.perf_counter()
        search(q[None, :])
        timings.append((time.perf_counter() - started) * 1000)
    timings = np.array(timings)
    return (
        float(np.percentile(timings, 50)),
        float(np.percentile(timings, 99)),
        1000 / timings.mean(),
    )


def measure(n: int, queries_n: int = 300, params: IndexParams | None = None, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, DIM))
    items = clustered(n, rng, centres)
    queries = clustered(queries_n, rng, centres)
    matrix = tf.constant(items)

    @tf.function(input_signature=[tf.TensorSpec([None, DIM], tf.float32)])
    def brute(q):
        return tf.math.top_k(tf.matmul(q, matrix, transpose_b=True), k=K)

    truth = np.concatenate(
        [brute(queries[i : i + 100]).indices.numpy() for i in range(0, queries_n, 100)]
    )
    started = time.perf_counter()
    index = build_index(items, K, params or IndexParams())
    build_seconds = time.perf_counter() - started

    def approximate(q):
        return index(tf.constant(q), k=K)

    found = np.concatenate(
        [approximate(queries[i : i + 100])[1].numpy() for i in range(0, queries_n, 100)]
    )
    recall = float(np.mean([len(set(t) & set(f)) / K for t, f in zip(truth, found)]))
    b50, b99, bqps = _per_query_ms(lambda q: brute(tf.constant(q)), queries[:200])
    a50, a99, aqps = _per_query_ms(approximate, queries[:200])
    return {
        "items": n,
        "recall_at_10": round(recall, 4),
        "brute_force": {"p50_ms": round(b50, 3), "p99_ms": round(b99, 3), "qps": round(bqps, 1)},
        "scann": {"p50_ms": round(a50, 3), "p99_ms": round(a99, 3), "qps": round(aqps, 1)},
        "speedup": round(aqps / bqps, 1),
        "index_build_seconds": round(build_seconds, 1),
        "params": dict(
            zip(("leaves", "leaves_to_search", "reorder"), (params or IndexParams()).resolved(n, K))
        ),
    }


def run(sizes=(10_000, 100_000, 1_000_000)) -> list[dict]:
    return [measure(n) for n in sizes]


def table(rows: list[dict]) -> str:
    lines = [
        "| items | ScaNN recall@10 | brute force p50 / p99 ms | ScaNN p50 / p99 ms | "
        "brute force QPS | ScaNN QPS | speed-up | index build s | leaves / searched / reordered |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["params"]
        lines.append(
            f"| {r['items']:,} | {r['recall_at_10']:.3f} | {r['brute_force']['p50_ms']} / "
            f"{r['brute_force']['p99_ms']} | {r['scann']['p50_ms']} / {r['scann']['p99_ms']} | "
            f"{r['brute_force']['qps']} | {r['scann']['qps']} | {r['speedup']}x | "
            f"{r['index_build_seconds']} | {p['leaves']} / {p['leaves_to_search']} / "
            f"{p['reorder']} |"
        )
    return "\n".join(lines)
