"""`recsearch bench reruns`: what a rerun costs and what the output folder holds over runs.

On the embedded sample shop, with the `recsearch run` command as a user types it
(each run a fresh process, so the figures include Python's and TensorFlow's start):
  - reruns: a first run; the same config again (every step should be CACHED);
    a release-only change (`release.latency_budget_ms`: only the ReleaseGate,
    the Pusher and the report should run);
  - retention: in another output folder, ten runs that each write (another
    `model.seed` each time), with the default retention (`release.keep_runs`,
    `release.keep_versions`).
After each run: its wall time, the steps that executed, and the output folder's size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import ml_metadata as mlmd

from recsearch.apps.results import connection_config
from recsearch.apps.retention import human_bytes, runs_of, tree_bytes

RUNS = 10


def _executed(metadata: str, pipeline: str) -> list[str]:
    """The steps of the newest run that executed (not CACHED)."""
    store = mlmd.MetadataStore(connection_config(metadata))
    names = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    newest = runs_of(store, pipeline)[-1]
    complete = mlmd.proto.Execution.COMPLETE
    return sorted(names[e.type_id] for e in newest if e.last_known_state == complete)


def _variant(base: str, overrides: dict, path: str) -> str:
    """`base` with sections updated, written beside it (its relative paths still hold)."""
    import yaml

    with open(base, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value}
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(raw, f, sort_keys=False)
    return path


def _run(config: str, out: str, number: int, label: str) -> dict:
    started = time.time()
    command = ["run", "--config", config, "--output", out]
    done = subprocess.run(
        [sys.executable, "-m", "recsearch.apps.cli", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.time() - started
    if done.returncode:
        raise RuntimeError(f"run {number} ({label}) failed:\n{done.stderr[-3000:]}")
    print(f"reruns bench: run {number} ({label}) {seconds:.1f} s", flush=True)
    return {
        "run": number,
        "change": label,
        "seconds": round(seconds, 1),
        "executed": _executed(os.path.join(out, "metadata.sqlite"), "shop"),
        "output_bytes": tree_bytes(out),
        "metadata_bytes": os.path.getsize(os.path.join(out, "metadata.sqlite")),
        "disk_line": next(
            (line for line in done.stdout.splitlines() if line.startswith("Disk:")), ""
        ),
    }


def run(output: str) -> dict:
    from recsearch.apps.bench.pipeline_bench import header
    from recsearch.data import sample

    work = tempfile.mkdtemp(prefix="recsearch-reruns-")
    data = os.path.join(work, "shop")
    sample.write(data)
    base = os.path.join(data, "config.yaml")
    # Reruns: the same config, then a release-only change.
    out = os.path.join(work, "reruns")
    release = _variant(base, {"release": {"latency_budget_ms": 300.0}}, f"{data}/release.yaml")
    reruns = [
        _run(base, out, 1, "first run"),
        _run(base, out, 2, "same config"),
        _run(release, out, 3, "release.latency_budget_ms 300"),
    ]
    # Retention: every run writes (another model.seed each time), default retention.
    out = os.path.join(work, "retention")
    retention = [
        _run(_variant(base, {"model": {"seed": n}}, f"{data}/seed{n}.yaml"), out, n, f"seed {n}")
        for n in range(1, RUNS + 1)
    ]
    result = {**header("recsearch bench reruns"), "reruns": reruns, "retention": retention}
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "bench-reruns.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return result


def table(result: dict) -> str:
    lines = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}` "
        "(each run is `recsearch run` in a fresh process, Python and TensorFlow start "
        "included).",
        "",
        "| run | change | wall time | steps executed (the rest CACHED) |",
        "|---|---|---|---|",
    ]
    for row in result["reruns"]:
        executed = ", ".join(row["executed"]) if row["executed"] else "none"
        if len(row["executed"]) >= 10:
            executed = f"all {len(row['executed'])}"
        lines.append(f"| {row['run']} | {row['change']} | {row['seconds']:.1f} s | {executed} |")
    lines += [
        "",
        "Ten runs that each write (another `model.seed` each time: the Trainer, Evaluator, "
        "gate and Pusher run again), default retention (`release.keep_runs` 3, "
        "`release.keep_versions` 3):",
        "",
        "| run | wall time | output folder | of which ML Metadata |",
        "|---|---|---|---|",
    ]
    for row in result["retention"]:
        lines.append(
            f"| {row['run']} | {row['seconds']:.1f} s | {human_bytes(row['output_bytes'])} | "
            f"{human_bytes(row['metadata_bytes'])} |"
        )
    return "\n".join(lines)
