"""`recsearch bench pipeline`: the whole pipeline on MovieLens 100K, timed, against popularity.

The pipeline runs with caching off. Popularity and EASE are scored on the very
split RecsysExampleGen writes, read back from its output (same data) with the same metric
code the Evaluator uses. The pushed bundle is also scored offline from the
eval examples, as a cross-check of the Evaluator's figures: the Trainer's
candidate bundle, the one the Evaluator judged (the pushed one is refit on
train + held-out, so the eval items are among its users' seen items).
"""

from __future__ import annotations

import os
import platform
import resource
import time

from tfx.utils import path_utils

from recsearch import features as keys
from recsearch import ranking_metrics
from recsearch.apps import local
from recsearch.apps.bench import baselines, docs
from recsearch.apps.results import latest_artifact_uri
from recsearch.data import examples, movielens


def bundle_metrics(serving_dir: str, examples_uri: str, k: int) -> dict[str, float]:
    """Ranking metrics of a pushed bundle, from its serving_default ranks on the eval split."""
    from recsearch import bundle
    from recsearch.components.run_report import gather

    evaluation = examples.read_split(examples_uri, "eval", serialized=True)
    ranks = gather.ranks(bundle.load(serving_dir), evaluation)
    return ranking_metrics.grouped_metrics(evaluation[keys.USER_ID], ranks, k)


def machine() -> str:
    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {cpus} cores, {memory:.0f} GiB, {platform.platform()}"


def header(command: str) -> dict:
    """The head of every benchmark's result: the command, the machine and the date."""
    return {"command": command, "machine": machine(), "date": time.strftime("%Y-%m-%d")}


def run(data_dir: str, output: str, write_docs: str | None = None) -> dict:
    """Runs the benchmark; returns (and optionally records) its figures."""
    config = movielens.movielens_config(data_dir)
    started = time.time()
    summary = local.run(config, output, enable_cache=False)
    wall = time.time() - started
    k = config.evaluation.top_k
    examples_uri = latest_artifact_uri(
        os.path.join(os.path.abspath(output), "metadata.sqlite"),
        config.name,
        "Examples",
        producer="RecsysExampleGen",
    )
    # The bundle the Evaluator judged: the Trainer's candidate, not the refit one pushed.
    judged = path_utils.serving_model_path(
        latest_artifact_uri(
            os.path.join(os.path.abspath(output), "metadata.sqlite"),
            config.name,
            "Model",
            producer="Trainer",
        )
    )
    chosen = next(
        (line.split(":")[0] for line in summary.selection if "serves recommend" in line),
        config.model_name,
    )
    # The very split the pipeline trained and judged on, read back from ExampleGen's output.
    train = examples.read_split(examples_uri, "train")
    held = examples.read_split(examples_uri, "eval")
    data = baselines.InteractionMatrix(train)
    result = {
        **header("recsearch bench pipeline --data-dir <movielens-100k>"),
        "wall_seconds": round(wall, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "components": {name: round(s, 1) for name, s in summary.timings.items()},
        "rows": {"train": len(train), "eval": len(held), "users": held.user_id.nunique()},
        "models": {
            f"{chosen} (Evaluator)": {m: summary.metrics[f"{m}@{k}"] for m in ("recall", "ndcg")},
            f"{chosen} (judged bundle, offline)": bundle_metrics(judged, examples_uri, k),
            "popularity": baselines.evaluate_scores(data, held, baselines.popularity_scores(data)),
            "EASE (l2=100)": baselines.evaluate_scores(data, held, baselines.ease_scores(data)),
        },
        "model": chosen,
        "selection": summary.selection,
        "blessed": summary.blessed,
    }
    return docs.record(result, docs.pipeline_table(result), output, "pipeline", write_docs)
