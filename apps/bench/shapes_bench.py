"""`recsearch bench shapes`: the default pipeline on logs of other shapes than ours.

Each shape of `recsearch.data.shapes.matrix()` (1k, 10k or 50k items; implicit
or rated; dense or sparse users; with or without timestamps; with or without
item metadata) is generated, given the config a newcomer would write (the
columns, nothing else), and run through the whole default pipeline from a cold
cache, one after the other. For each: wall time, peak resident memory, the
pushed bundle's size, `recommend` p99 as the release gate measured it in a fresh
process, whether it was blessed and pushed, and its quality on the pipeline's
own eval split beside references computed in the same run on the same split:
popularity and EASE (dense, where the catalog fits) for top-K shapes, the bias
baseline (as the gate scores it) for rated ones.
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pandas as pd
from scipy import sparse

from recsearch import features as keys
from recsearch import ranking_metrics
from recsearch.apps import local
from recsearch.apps.bench import docs
from recsearch.apps.bench.pipeline_bench import header
from recsearch.apps.results import latest_artifact_uri
from recsearch.config import load_config
from recsearch.data import examples, shapes

# Dense EASE as a reference only where its V x V solve is quick.
EASE_REFERENCE_MAX_ITEMS = 15_000
K = 10


class SplitMatrix:
    """A train split as a sparse binary users x items matrix, and the held-out users'
    relevant items in its index space (items unseen in train are not relevant, as the
    Evaluator ranks them)."""

    def __init__(self, train: pd.DataFrame, held: pd.DataFrame):
        self.items = pd.Index(pd.unique(train[keys.ITEM_ID]))
        users = pd.Index(pd.unique(train[keys.USER_ID]))
        rows = users.get_indexer(train[keys.USER_ID])
        columns = self.items.get_indexer(train[keys.ITEM_ID])
        self.x = sparse.csr_matrix(
            (np.ones(len(train), np.float32), (rows, columns)),
            shape=(len(users), len(self.items)),
        )
        self.x.data[:] = 1.0
        self.judged = []
        for user, group in held.groupby(keys.USER_ID):
            u = users.get_indexer([user])[0]
            relevant = self.items.get_indexer(group[keys.ITEM_ID])
            relevant = relevant[relevant >= 0]
            if u >= 0 and len(relevant):
                self.judged.append((u, relevant))

    def metrics(self, score_row) -> dict[str, float]:
        """Metrics at K of `score_row(user's sparse row) -> scores [items]`, seen excluded."""
        ranks = []
        for u, relevant in self.judged:
            row = self.x.getrow(u)
            seen = np.zeros(len(self.items), bool)
            seen[row.indices] = True
            ranks.append(ranking_metrics.ranks_of(score_row(row), relevant, seen))
        return ranking_metrics.mean_metrics(ranks, K)


def reference_metrics(train: pd.DataFrame, held: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Popularity's and dense EASE's metrics at K on `held`, fitted on `train`."""
    from recsearch.modules.models import ease

    data = SplitMatrix(train, held)
    if not data.judged:
        return {}
    counts = np.asarray(data.x.sum(axis=0)).ravel()
    result = {"popularity": data.metrics(lambda row: counts)}
    if len(data.items) <= EASE_REFERENCE_MAX_ITEMS:
        weights = ease.solve_dense(data.x, 100.0)
        result["EASE (dense, l2 100)"] = data.metrics(lambda row: np.asarray(row @ weights).ravel())
    return result


PRUNING = (0, 1250, 500, 200, 50)


def pruning_cost(train: pd.DataFrame, held: pd.DataFrame) -> list[dict]:
    """EASE's metrics at K on `held` with B kept dense and pruned to each of PRUNING
    neighbours per item (0: dense), and the kept weights' size."""
    from recsearch.modules.models import ease

    data = SplitMatrix(train, held)
    dense = ease.solve_dense(data.x, 100.0)
    rows = []
    for neighbors in PRUNING:
        splits, columns, values = ease.prune(dense, neighbors)
        kept = sparse.csr_matrix((values, columns, splits), shape=dense.shape)
        metrics = data.metrics(lambda row, kept=kept: np.asarray((row @ kept).todense()).ravel())
        size = len(values) * 8 if neighbors else dense.nbytes
        rows.append(
            {
                "neighbors": neighbors or "dense",
                "recall": metrics["recall"],
                "ndcg": metrics["ndcg"],
                "mb": round(size / 1e6, 1),
            }
        )
    return rows


def directory_mb(path: str | None) -> float | None:
    if not path or not os.path.isdir(path):
        return None
    total = sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, files in os.walk(path)
        for name in files
    )
    return round(total / 1e6, 1)


def run_shape(spec: shapes.ShapeSpec, output: str) -> dict:
    """Generates one shape, runs the default pipeline on it; its figures."""
    data_dir = os.path.join(output, spec.name, "data")
    if not os.path.isfile(os.path.join(data_dir, "config.yaml")):
        shapes.write(data_dir, spec)
    config = load_config(os.path.join(data_dir, "config.yaml"))
    run_dir = os.path.join(output, spec.name, "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    started = time.time()
    summary = local.run(config, run_dir, enable_cache=False, quiet=True, measure_memory=True)
    wall = time.time() - started
    checks = {c["name"]: c for c in summary.checks}
    serving = checks.get("serving", {}).get("figures", {}).get("latency_ms", {})
    entry = {
        "shape": spec.name,
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(max(summary.peak_rss.values(), default=0) / 2**30, 2),
        "trainer_seconds": round(summary.timings.get("Trainer", 0.0), 1),
        "bundle_mb": directory_mb(summary.pushed_to),
        "recommend_p99_ms": round(serving["p99"], 1) if "p99" in serving else None,
        "blessed": summary.blessed,
        "pushed": summary.pushed_to is not None,
        "reasons": summary.reasons,
        "model": next(
            (line.split(":")[0] for line in summary.selection if "serves recommend" in line),
            config.model_name,
        ),
        "selection": summary.selection,
        "metrics": {k: v for k, v in summary.metrics.items() if "@" in k or "error" in k},
    }
    if spec.rated:
        entry["references"] = {
            "bias baseline": checks.get("baseline", {}).get("figures", {}).get("bias_baseline", {})
        }
    else:
        uri = latest_artifact_uri(
            os.path.join(os.path.abspath(run_dir), "metadata.sqlite"),
            config.name,
            "Examples",
            producer="RecsysExampleGen",
        )
        train = examples.read_split(uri, "train")
        held = examples.read_split(uri, "eval")
        entry["references"] = reference_metrics(train, held)
        if spec == shapes.ShapeSpec():
            entry["ease_pruning"] = pruning_cost(train, held)
    entry.setdefault("ease_pruning", None)
    print(f"{spec.name}: {wall:.0f} s, blessed {summary.blessed}", flush=True)
    return entry


def table(result: dict) -> str:
    lines = [
        f"`{result['command']}` on {result['machine']}, {result['date']}. Each shape "
        "is the config a newcomer would write (columns only), the whole default pipeline, "
        "cold cache, one after the other.",
        "",
        "| shape | model | blessed, pushed | wall s | Trainer s | peak GiB | bundle MB "
        "| recommend p99 ms | quality (eval split) | references (same split) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in result["shapes"]:
        if "root_mean_squared_error" in e["metrics"]:
            quality = f"RMSE {e['metrics']['root_mean_squared_error']:.4f}"
            refs = ", ".join(
                f"{name} RMSE {figures['root_mean_squared_error']:.4f}"
                for name, figures in e["references"].items()
                if figures
            )
        else:
            quality = f"R@10 {e['metrics'].get('recall@10', float('nan')):.4f}"
            refs = ", ".join(
                f"{name} R@10 {figures['recall']:.4f}" for name, figures in e["references"].items()
            )
        verdict = f"{'yes' if e['blessed'] else 'no'}, {'yes' if e['pushed'] else 'no'}"
        lines.append(
            f"| {e['shape']} | {e['model']} | {verdict} | {e['wall_seconds']:.0f} "
            f"| {e['trainer_seconds']:.0f} | {e['peak_rss_gib']:.2f} | {e['bundle_mb']} "
            f"| {e['recommend_p99_ms']} | {quality} | {refs} |"
        )
    pruned = [(f"{e['shape']}'s split", e["ease_pruning"]) for e in result["shapes"]]
    pruned.append(("MovieLens 100K's temporal split", result.get("movielens_pruning")))
    for where, rows in pruned:
        if not rows:
            continue
        lines += [
            "",
            f"EASE (l2 100) on {where}, its item-item weights kept dense or pruned to each "
            "item's strongest (`model.ease_neighbors`; the default keeps 100 MB of them):",
            "",
            "| neighbours per item | Recall@10 | NDCG@10 | weights MB |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['neighbors']} | {r['recall']:.4f} | {r['ndcg']:.4f} | {r['mb']} |" for r in rows
        ]
    return "\n".join(lines)


def movielens_pruning(data_dir: str) -> list[dict]:
    """`pruning_cost` on MovieLens 100K's temporal split (../shared/MEASURED.md's protocol)."""
    from recsearch.apps.bench.quality import data

    train, held = data.temporal_split(data.read_ratings(data_dir))
    return pruning_cost(train, held)


def run(
    output: str,
    only: list[str] | None = None,
    write_docs: str | None = None,
    data_dir: str | None = None,
) -> dict:
    """Runs every shape (or those whose name contains one of `only`); records the table.

    With `data_dir` (MovieLens 100K), EASE's pruning cost on it is measured too.
    """
    specs = [s for s in shapes.matrix() if not only or any(o in s.name for o in only)]
    command = "recsearch bench shapes" + (f" --only {','.join(only)}" if only else "")
    result = {
        **header(command + (" --data-dir <movielens-100k>" if data_dir else "")),
        "shapes": [run_shape(spec, output) for spec in specs],
    }
    if data_dir:
        result["movielens_pruning"] = movielens_pruning(data_dir)
    return docs.record(result, table(result), output, "shapes", write_docs)
