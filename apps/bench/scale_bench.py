"""`recsearch bench scale`: the whole pipeline on the sample shop at growing sizes.

The shop is generated at each size with the default generator (about 26
interactions per user and ten users per item), with full content (text,
16x16 images, categories, numbers) or with ids only (the interaction log
alone). Each size runs the whole pipeline from a cold cache; every
component's seconds and peak resident memory (the runner process and its
children together: Beam's workers, the Trainer's process) are recorded,
with rows per second for the data steps and the growth exponent of wall
time over the sizes (the slope of log time against log size: 1.0 is
linear).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import shutil
import time

import numpy as np

from recsearch.apps import local
from recsearch.apps.bench import docs
from recsearch.apps.bench.pipeline_bench import header
from recsearch.config import load_config
from recsearch.config.trainer_settings import with_values
from recsearch.data import sample

# Interactions per user and users per item of the generated shop (SampleSpec(40_000, 4_000)
# logs 1.04M interactions).
_PER_USER = 26
_USERS_PER_ITEM = 10
DATA_STEPS = ("RecsysExampleGen", "StatisticsGen", "Transform")


def parse_size(text: str) -> int:
    """'1m' -> 1_000_000, '300k' -> 300_000, '5000' -> 5000."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def shop_config(directory: str, interactions: int, content: str):
    """The sample shop of about `interactions` rows; `content` 'full' or 'ids'."""
    users = max(50, interactions // _PER_USER)
    spec = sample.SampleSpec(users=users, items=max(20, users // _USERS_PER_ITEM))
    if not os.path.isfile(os.path.join(directory, "config.yaml")):
        _write_apart(directory, spec)
    config = load_config(os.path.join(directory, "config.yaml"))
    if content == "ids":
        config = dataclasses.replace(
            config,
            items=None,
            users=None,
            features=dataclasses.replace(config.features, crosses=()),
            model=with_values(config.model, {"content_weight": 0.0}),
        )
    return dataclasses.replace(config, name=f"scale-{content}")


def _write_apart(directory: str, spec: sample.SampleSpec) -> None:
    """Writes the shop from a child process, so the generator's memory (gigabytes of rows
    at 10M) is given back before the pipeline runs and is not counted in its peak RSS."""
    child = multiprocessing.get_context("spawn").Process(
        target=sample.write, args=(directory, spec)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"writing the sample shop to {directory} failed (exit {child.exitcode})")


def growth_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """The least-squares slope of log(seconds) over log(size)."""
    if len(sizes) < 2:
        return None
    slope, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(slope)


def run(sizes: list[int], contents: list[str], output: str, write_docs: str | None = None) -> dict:
    """Runs the pipeline at every size and content; returns (and records) the figures."""
    results: dict[str, list[dict]] = {}
    for content in contents:
        for size in sizes:
            data_dir = os.path.join(output, f"shop-{size}")
            config = shop_config(data_dir, size, content)
            run_dir = os.path.join(output, f"run-{content}-{size}")
            shutil.rmtree(run_dir, ignore_errors=True)
            with open(config.resolve(config.interactions.path), "rb") as f:
                rows = sum(1 for _ in f) - 1
            started = time.time()
            summary = local.run(
                config, run_dir, enable_cache=False, quiet=True, measure_memory=True
            )
            wall = time.time() - started
            entry = {
                "interactions": rows,
                "wall_seconds": round(wall, 1),
                "seconds": {k: round(v, 1) for k, v in summary.timings.items()},
                "peak_rss_gib": {k: round(v / 2**30, 2) for k, v in summary.peak_rss.items()},
                "rows_per_second": {
                    step: round(rows / summary.timings[step])
                    for step in DATA_STEPS
                    if summary.timings.get(step)
                },
                "recall@10": summary.metrics.get("recall@10"),
                "pushed": summary.pushed_to is not None,
            }
            results.setdefault(content, []).append(entry)
            print(f"{content} {rows:,}: {wall:.0f} s", flush=True)
    result = {
        **header(
            "recsearch bench scale --sizes "
            + ",".join(str(s) for s in sizes)
            + " --content "
            + ",".join(contents)
        ),
        "runs": results,
        "growth_exponent": {
            content: growth_exponent(
                [e["interactions"] for e in entries], [e["wall_seconds"] for e in entries]
            )
            for content, entries in results.items()
        },
    }
    return docs.record(result, table(result), output, "scale", write_docs)


def table(result: dict) -> str:
    lines = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}`.",
        "Seconds / peak RSS (GiB, runner and its child processes) per component; rows/s of "
        "the data steps over the interactions.",
        "",
    ]
    for content, entries in result["runs"].items():
        steps = list(entries[0]["seconds"])
        lines += [
            f"**{content} content**, growth exponent of wall time: "
            + _exponent(result["growth_exponent"].get(content)),
            "",
            "| interactions | wall s | " + " | ".join(steps) + " | ExampleGen rows/s |",
            "|---|---|" + "---|" * len(steps) + "---|",
        ]
        for e in entries:
            cells = [
                f"{e['seconds'].get(s, 0):.0f} / {e['peak_rss_gib'].get(s, 0):.1f}" for s in steps
            ]
            rate = e["rows_per_second"].get("RecsysExampleGen", 0)
            lines.append(
                f"| {e['interactions']:,} | {e['wall_seconds']:.0f} | "
                + " | ".join(cells)
                + f" | {rate:,} |"
            )
        lines.append("")
    return "\n".join(lines)


def _exponent(value: float | None) -> str:
    return "n/a (one size)" if value is None or math.isnan(value) else f"{value:.2f}"
