"""`recsearch bench warmstart`: does warm-starting from the served model age it over days?

The sample shop's 60 days cut into five daily spans (`demo.write_spans`). Each
schedule runs the pipeline once per span in its own output folder, as a nightly
job would, and after each day the bundle served then is scored on the next
span's interactions (Recall@10 over the users who come back, their earlier items
excluded, as `bench freshness` scores):
  - warm, full: warm start from the served model, the full `model.epochs`;
  - warm, short: warm start, `model.warm_start_epochs` 2;
  - cold: no warm start, the full `model.epochs`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import numpy as np
import pandas as pd

from recsearch import features as keys

DAYS = 5
SCHEDULES = {
    "warm, full schedule": {},
    "warm, short schedule (warm_start_epochs 2)": {"warm_start_epochs": 2},
    "cold start each day": {"warm_start": False},
}


def _span(data: str, span: int) -> pd.DataFrame:
    frame = pd.read_csv(os.path.join(data, "interactions", f"span-{span}", "events.csv"))
    return frame.astype({keys.USER_ID: str, keys.ITEM_ID: str})


def run(output: str) -> dict:
    from recsearch.apps import demo, local
    from recsearch.apps.bench.freshness_bench import served_metrics
    from recsearch.apps.bench.pipeline_bench import header
    from recsearch.config import load_config

    work = tempfile.mkdtemp(prefix="recsearch-warmstart-")
    started = time.time()
    rows = {}
    for label, model in SCHEDULES.items():
        folder = os.path.join(work, str(len(rows)))
        data = os.path.join(folder, "data")
        config = load_config(demo.write_spans(data, settings={"model": model}, count=DAYS))
        days = []
        for span in range(1, DAYS + 1):
            summary = local.run(config, os.path.join(folder, "out"), quiet=True, span=span)
            day = {
                "span": span,
                "pushed": bool(summary.pushed_to),
                "trainer_seconds": round(summary.timings.get("Trainer", 0.0), 1),
                "comparison": next(
                    (c["detail"] for c in summary.checks if c["name"] == "comparison"), ""
                ),
            }
            if span < DAYS and summary.serving_dir:
                metrics, _ = served_metrics(
                    summary.serving_dir, _span(data, span), _span(data, span + 1)
                )
                day["next_day_recall"] = metrics["recall"]
            days.append(day)
            print(f"warmstart bench: {label}, day {span}: {day}", flush=True)
        rows[label] = days
    result = {**header("recsearch bench warmstart"), "rows": rows}
    result["seconds"] = round(time.time() - started, 1)
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "bench-warmstart.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return result


def table(result: dict) -> str:
    lines = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}` "
        f"({result['seconds'] / 60:.0f} min). Recall@10 of the bundle served after each day, "
        "on the next day's interactions:",
        "",
        "| schedule | "
        + " | ".join(f"day {d} -> {d + 1}" for d in range(1, DAYS))
        + " | mean | days pushed | Trainer s/day |",
        "|---|" + "---|" * (DAYS - 1) + "---|---|---|",
    ]
    for label, days in result["rows"].items():
        recalls = [d["next_day_recall"] for d in days if "next_day_recall" in d]
        pushed = sum(d["pushed"] for d in days)
        seconds = np.mean([d["trainer_seconds"] for d in days[1:]])  # day 1 is always cold
        lines.append(
            f"| {label} | "
            + " | ".join(f"{r:.4f}" for r in recalls)
            + f" | {np.mean(recalls):.4f} | {pushed} of {len(days)} | {seconds:.1f} |"
        )
    return "\n".join(lines)
