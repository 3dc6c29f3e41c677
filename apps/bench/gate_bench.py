"""`recsearch bench gate`: does the release gate tell noise from a worse model?

On the embedded sample shop: a first run pushes; then the same config runs ten
times with the cache off (each a new training on identical data, statistically
equal to what is served), and a clearly worse config (the two-tower model
trained one epoch at a tiny learning rate from a cold start) runs ten times.
Each run's comparison check is recorded: the verdict, the difference and its
interval.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time

RERUNS = 10
# A model that has barely moved from its random start.
WORSE = {"epochs": 1, "learning_rate": 0.0001, "warm_start": False}


def _comparison(summary) -> dict:
    check = next((c for c in summary.checks if c["name"] == "comparison"), None)
    figures = (check or {}).get("figures", {})
    return {
        "blessed": summary.blessed,
        "pushed": bool(summary.pushed_to),
        "verdict": figures.get("verdict", "-"),
        "difference": figures.get("difference"),
        "low": figures.get("low"),
        "high": figures.get("high"),
        "users": figures.get("users"),
        "detail": (check or {}).get("detail", ""),
        "reasons": summary.reasons,
    }


def run(output: str, reruns: int = RERUNS) -> dict:
    from recsearch.apps import local
    from recsearch.apps.bench.pipeline_bench import header
    from recsearch.config import load_config
    from recsearch.config.trainer_settings import with_values
    from recsearch.data import sample

    work = tempfile.mkdtemp(prefix="recsearch-gate-")
    sample.write(os.path.join(work, "shop"))
    config = load_config(os.path.join(work, "shop", "config.yaml"))
    out = os.path.join(work, "out")
    started = time.time()
    first = local.run(config, out, quiet=True)
    rows = {"same config, cache off": [], "clearly worse config": []}
    worse = dataclasses.replace(config, model=with_values(config.model, WORSE))
    for label, each in (("same config, cache off", config), ("clearly worse config", worse)):
        for number in range(1, reruns + 1):
            summary = local.run(each, out, enable_cache=False, quiet=True)
            rows[label].append(_comparison(summary))
            print(f"gate bench: {label} {number}: {rows[label][-1]['verdict']}", flush=True)
    result = {
        **header("recsearch bench gate"),
        "first_blessed": first.blessed,
        "rows": rows,
        "seconds": round(time.time() - started, 1),
    }
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "bench-gate.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, default=float)
    return result


def table(result: dict) -> str:
    lines = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}` "
        f"({result['seconds'] / 60:.0f} min). The first run pushed; then each config ran "
        "ten times with the cache off, each compared with the model served at the time "
        "(`evaluation.tolerance` 0.02, `evaluation.confidence` 0.95).",
        "",
        "| config | blessed | verdicts | differences of recall@10 (90% interval) |",
        "|---|---|---|---|",
    ]
    for label, runs in result["rows"].items():
        blessed = sum(r["blessed"] for r in runs)
        verdicts = ", ".join(
            f"{v} {sum(r['verdict'] == v for r in runs)}"
            for v in ("better", "equal", "worse")
            if any(r["verdict"] == v for r in runs)
        )
        shown = "; ".join(
            f"{r['difference']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]"
            for r in runs
            if r["difference"] is not None
        )
        lines.append(f"| {label} | {blessed} of {len(runs)} | {verdicts} | {shown} |")
    return "\n".join(lines)
