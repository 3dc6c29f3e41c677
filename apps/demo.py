"""`recsearch demo spans`: three days of data arrive, the pipeline retrains each day.

The sample shop's 60 days are cut into three spans of 20 days under
`interactions/span-{SPAN}/events.csv`. Items released later appear only in
later spans, so the vocabularies change. Each day's run reads its span, warm-
starts from the served model (embedding rows remapped), compares the
candidate with that model, and pushes only when the release gate blesses it.
"""

from __future__ import annotations

import json
import os

import pandas as pd

from recsearch import config as config_lib
from recsearch.apps import local
from recsearch.apps.results import RunSummary
from recsearch.config import update_config_file as write_config
from recsearch.data import sample

SPANS = 3


def write_spans(
    directory: str,
    spec: sample.SampleSpec | None = None,
    settings: dict | None = None,
    count: int = SPANS,
) -> str:
    """Writes the shop with its interactions cut into spans; returns the config path.

    Args:
      directory: Where the shop goes.
      spec: The generated shop's size (the default sample shop by default).
      settings: Config sections merged into the shop's config (for example
        `{"model": {"epochs": 3}}`).
      count: How many spans (days) the shop's days are cut into.
    """
    spec = spec or sample.SampleSpec()
    sample.write(directory, spec)
    events = pd.read_csv(os.path.join(directory, "interactions.csv"))
    day = (events["timestamp"] - events["timestamp"].min()) // 86400
    edges = [spec.days * i // count for i in range(count + 1)]
    for span in range(1, count + 1):
        part = events[(day >= edges[span - 1]) & (day < edges[span])]
        target = os.path.join(directory, "interactions", f"span-{span}")
        os.makedirs(target, exist_ok=True)
        part.to_csv(os.path.join(target, "events.csv"), index=False)
    os.remove(os.path.join(directory, "interactions.csv"))
    settings = settings or {}
    interactions = {
        **settings.get("interactions", {}),
        "path": "interactions/span-{SPAN}/events.csv",
    }
    return write_config(directory, {**settings, "interactions": interactions})


def warm_start_report(summary: RunSummary) -> dict:
    """What the run's Trainer carried over from the served model (empty on day 1)."""
    if not summary.model_run:
        return {}
    path = os.path.join(summary.model_run, "warm_start.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def spans(
    output: str,
    spec: sample.SampleSpec | None = None,
    quiet: bool = False,
    settings: dict | None = None,
) -> list[RunSummary]:
    """Runs the pipeline once per span; prints what each day did.

    `spec` and `settings` are as for `write_spans`.
    """
    config = config_lib.load_config(write_spans(os.path.join(output, "data"), spec, settings))
    summaries = []
    for span in range(1, SPANS + 1):
        if not quiet:
            print(f"\n=== Day {span}: span {span} arrives ===", flush=True)
        summary = local.run(config, output, quiet=quiet, span=span)
        summaries.append(summary)
        if quiet:
            continue
        name = f"recall@{config.evaluation.top_k}"
        base = summary.baseline_metrics.get(name)
        against = f" (served {base:.4f})" if base is not None else " (first model)"
        print(f"  {name} {summary.metrics.get(name, float('nan')):.4f}{against}")
        print(
            "  "
            + (
                "pushed " + summary.pushed_to
                if summary.pushed_to
                else "not pushed: " + "; ".join(summary.reasons)
            )
        )
    return summaries
