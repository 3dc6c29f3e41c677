"""`recsearch bench objective`: training toward purchases, against any event, side by side.

The sample shop (its default generator) logs views, carts and purchases. The
pipeline runs twice on the same data and split, in the same process: once
with every interaction counting the same (the any-event objective), once with
`interactions.event_weights` {purchase: 1.0, cart: 0.3, view: 0.05}, the
shipped sample config's setting. Each run's
Evaluator slices its metrics by event type; the table shows purchase Recall@10
and any-event Recall@10 of both candidates.
"""

from __future__ import annotations

import dataclasses
import os
import time

from recsearch.apps import local
from recsearch.apps.bench import docs
from recsearch.apps.bench.pipeline_bench import machine
from recsearch.config import load_config
from recsearch.data import sample

PURCHASE_WEIGHTS = {"purchase": 1.0, "cart": 0.3, "view": 0.05}
METRIC = "recall@10"


def run(output: str, write_docs: str | None = None) -> dict:
    """Runs both objectives; returns (and optionally records) their figures."""
    data_dir = os.path.join(output, "objective-shop")
    config = load_config(sample.write(data_dir))
    objectives = {
        "any event": dataclasses.replace(
            config, interactions=dataclasses.replace(config.interactions, event_weights={})
        ),
        "toward purchases": dataclasses.replace(
            config,
            interactions=dataclasses.replace(config.interactions, event_weights=PURCHASE_WEIGHTS),
        ),
    }
    rows = {}
    for label, cfg in objectives.items():
        started = time.time()
        summary = local.run(
            cfg, os.path.join(output, label.replace(" ", "-")), enable_cache=False, quiet=True
        )
        rows[label] = {
            "any_event": summary.metrics[METRIC],
            **{event: m[METRIC] for event, m in summary.event_metrics.items()},
            "seconds": time.time() - started,
        }
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}. Command: "
        "`recsearch bench objective`. The sample shop, one temporal split, its config's two_tower "
        "model, the pipeline run twice; Recall@10 of each candidate on the eval split, "
        "overall and on the purchases in it.",
        "",
        "| objective | purchase Recall@10 | cart Recall@10 | view Recall@10 | "
        "any-event Recall@10 |",
        "|---|---|---|---|---|",
    ]
    for label, row in rows.items():
        lines.append(
            f"| {label} | {row.get('purchase', float('nan')):.4f} | "
            f"{row.get('cart', float('nan')):.4f} | {row.get('view', float('nan')):.4f} | "
            f"{row['any_event']:.4f} |"
        )
    return docs.record(rows, "\n".join(lines), output, "objective", write_docs)
