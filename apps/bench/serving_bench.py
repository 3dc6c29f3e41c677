"""`recsearch bench serving`: latency and throughput of `recommend`, in process and over REST.

Two bundles, both built by the project's own serving code
(`modules/serving.py::RecommenderModule`):
  - MovieLens 100K (1,6xx items): the bundle the pipeline benchmark pushed;
  - a synthetic 100,000-item catalog: a matrix-factorisation model whose
    candidate matrix is random, behind the real Transform graph of a
    generated shop (so user ids go through the same lookup as in production).
One user per request. The REST figures use `recsearch serve` in its own
process and a client in this one, on loopback.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np

from recsearch.apps.bench import docs

# Two stages: candidates the ranker reorders per request (the two-stage issue's figure).
TWO_STAGE_DEPTH = 200


def build_synthetic_bundle(
    path: str, num_items: int = 100_000, dim: int = 64, seen: int = 20, rerank_depth: int = 0
) -> list[str]:
    """Exports a RecommenderModule over `num_items` items; returns the known user ids.

    With `rerank_depth`, a two-stage bundle: a DCN-v2 ranker (random weights, the
    shape the pipeline trains) reorders the first `rerank_depth` retrieved items.
    """
    import tensorflow as tf
    import tensorflow_transform as tft

    from recsearch.config import load_config
    from recsearch.data import sample
    from recsearch.modules import serving
    from recsearch.modules.models.mf import BiasedMF
    from recsearch.modules.training_data import Catalog
    from recsearch.testing import staging

    work = tempfile.mkdtemp(prefix="recsearch-bench-")
    config = load_config(sample.write(work, sample.SampleSpec(users=1000, items=200, days=20)))
    _, graph, _ = staging.transform_sample(config, os.path.join(work, "t"))
    tft_output = tft.TFTransformOutput(graph)
    users = [v.decode() for v in tft_output.vocabulary_by_name("user_id")]
    rng = np.random.default_rng(0)
    num_users = len(users) + 1
    model = BiasedMF(num_users=num_users, num_items=num_items + 1, dim=dim)
    model(
        {
            "user_id": tf.constant([0], tf.int64),
            "item_id": tf.constant([0], tf.int64),
        }
    )
    model.item_embedding.embeddings.assign(rng.normal(0, 0.1, (num_items + 1, dim)))
    model.user_embedding.embeddings.assign(rng.normal(0, 0.1, (num_users, dim)))
    seen_items = np.sort(rng.integers(0, num_items, (num_users, seen)), axis=1).reshape(-1)
    catalog = Catalog(
        num_users=num_users,
        num_items=num_items + 1,
        user_vocab_size=len(users),
        item_vocab_size=num_items,
        item_ids=np.array([f"item{j:06d}" for j in range(num_items)], dtype=object),
        item_index=np.arange(num_items, dtype=np.int64),
        item_counts=rng.integers(1, 1000, num_items),
        seen_row_splits=np.arange(0, num_users * seen + 1, seen, dtype=np.int64),
        seen_items=seen_items.astype(np.int64),
        user_features={},
        item_features={},
    )
    ranker = synthetic_ranker(num_users, num_items + 1) if rerank_depth else None
    module = serving.RecommenderModule(
        model, catalog, tft_output, top_k=10, ranker=ranker, rerank_depth=rerank_depth or 100
    )
    serving.export(module, path)
    return users


def synthetic_ranker(num_users: int, num_items: int, dim: int = 16):
    """A DCN-v2 over user and item ids with random weights, built by one eager call."""
    import tensorflow as tf

    from recsearch.modules.models.dcn import DCN
    from recsearch.modules.models.fields import FieldEmbeddings

    ranker = DCN(
        FieldEmbeddings({"user_id": num_users}, dim=dim, seed=1),
        FieldEmbeddings({"item_id": num_items}, dim=dim, seed=2),
    )
    one = tf.constant([0], tf.int64)
    ranker.score_pairs(
        ranker.query_vectors({"user_id": one}), ranker.candidate_vectors({"item_id": one})
    )
    return ranker


def in_process(path: str, users: list[str], requests: int = 1000) -> dict:
    import tensorflow as tf

    model = tf.saved_model.load(path)
    recommend = model.signatures["recommend"]
    rng = np.random.default_rng(1)
    for user in users[:20]:
        recommend(user_id=tf.constant([user]))
    timings = []
    started = time.perf_counter()
    for user in rng.choice(users, requests):
        t = time.perf_counter()
        recommend(user_id=tf.constant([user]))
        timings.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - started
    return _summary(timings, requests / elapsed)


def _summary(timings: list[float], qps: float) -> dict:
    return {
        "p50_ms": round(float(np.percentile(timings, 50)), 2),
        "p99_ms": round(float(np.percentile(timings, 99)), 2),
        "qps": round(qps, 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, user: str) -> int:
    body = json.dumps({"signature_name": "recommend", "instances": [{"user_id": user}]}).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status


def _rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def over_rest(
    base_dir: str, users: list[str], requests: int = 1000, clients: int = 8, seconds: float = 20
) -> dict:
    """Sequential latency, then a bounded concurrent load test, against `recsearch serve`."""
    port = _free_port()
    name = os.path.basename(os.path.normpath(base_dir))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recsearch.apps.cli",
            "serve",
            "--model-dir",
            base_dir,
            "--port",
            str(port),
            "--no-binary",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/models/{name}:predict"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models/{name}", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        rng = np.random.default_rng(2)
        for user in users[:20]:
            _post(url, user)
        timings = []
        started = time.perf_counter()
        for user in rng.choice(users, requests):
            t = time.perf_counter()
            _post(url, user)
            timings.append((time.perf_counter() - t) * 1000)
        sequential = _summary(timings, requests / (time.perf_counter() - started))
        rss_before = _rss_mib(server.pid)
        served, errors = 0, 0
        lock = threading.Lock()
        stop = time.time() + seconds

        def client(seed: int) -> None:
            nonlocal served, errors
            local_rng = np.random.default_rng(seed)
            while time.time() < stop:
                try:
                    ok = _post(url, str(local_rng.choice(users))) == 200
                except OSError:
                    ok = False
                with lock:
                    served += ok
                    errors += not ok

        load_started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        load_elapsed = time.perf_counter() - load_started
        rss_after = _rss_mib(server.pid)
        return {
            **sequential,
            "load": {
                "clients": clients,
                "seconds": round(load_elapsed, 1),
                "served": served,
                "errors": errors,
                "qps": round(served / load_elapsed, 1),
                "rss_mib_before": round(rss_before, 1),
                "rss_mib_after": round(rss_after, 1),
            },
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


def run(movielens_dir: str | None, output: str, write_docs: str | None = None) -> dict:
    from recsearch import bundle
    from recsearch.apps.bench.pipeline_bench import header

    os.makedirs(output, exist_ok=True)
    cases = {}
    if movielens_dir and bundle.versions(movielens_dir):
        version_dir = bundle.resolve(movielens_dir)
        ml_users = bundle.vocabulary(version_dir, "user_id")
        items = len(bundle.vocabulary(version_dir, "item_id"))
        cases[f"MovieLens 100K ({items} items)"] = (movielens_dir, ml_users)
    synthetic = os.path.join(output, "synthetic-100k")
    users = build_synthetic_bundle(os.path.join(synthetic, "1"))
    cases["synthetic (100,000 items)"] = (synthetic, users)
    two_stage = os.path.join(output, "synthetic-100k-two-stage")
    build_synthetic_bundle(os.path.join(two_stage, "1"), rerank_depth=TWO_STAGE_DEPTH)
    cases[f"synthetic (100,000 items), DCN reranks {TWO_STAGE_DEPTH}"] = (two_stage, users)
    result = {
        **header("recsearch bench serving"),
        "cases": {
            name: {
                "in_process": in_process(bundle.resolve(base), users_),
                "rest": over_rest(base, users_),
            }
            for name, (base, users_) in cases.items()
        },
    }
    return docs.record(result, docs.serving_table(result), output, "serving", write_docs)
