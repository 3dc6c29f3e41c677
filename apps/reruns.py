"""Cheap reruns: the cache key of ServedModel, so that an unchanged run is all CACHED.

TFX caches a step when its inputs are the same artifacts as before. Every
step that judges or warm-starts from the served model reads ServedModel's
output, so that output must stay the same artifact while the answer to "what
is this run's baseline?" stays the same. ServedModel's `served_key` parameter
is that answer, computed here before the run:

- When the steps up to the Trainer have the same inputs as the last completed
  run (`upstream_fingerprint`: their settings, and the size and time of every
  data file) and what is served is what that run left served, the key is that
  run's: the run is the same run, judged against the same baseline. Its model
  may be the one served now, pushed by that run; the Pusher does not push it
  twice.
- Otherwise (new data, a model setting, a rollback, a push from elsewhere) the
  key names the served version and the last run's schema, so ServedModel
  reads them afresh.

A release setting (`release.*` but refit) is not an input of those steps: a
change to it reruns only the ReleaseGate, the Pusher and the report.

Only the local runner computes the key. On Kubeflow, ServedModel is never
cached (`pipeline.NEVER_CACHED`).
"""

from __future__ import annotations

import hashlib
import json
import os

from recsearch import config as config_lib
from recsearch.data import sources, spans

# What the runner leaves in the pipeline's state directory after a completed run.
LAST_RUN = "last_run.json"


def data_files(config: config_lib.PipelineConfig, span: int | None = None) -> list[str]:
    """Every file a run reads: the interactions (a `{SPAN}` path's window), tables, schema."""
    path = config.resolve(config.interactions.path)
    patterns = [path]
    if spans.has_spans(path):
        _, selected = spans.select(path, span, config.interactions.span_window)
        patterns = [selected] if isinstance(selected, str) else list(selected)
    patterns += [config.resolve(s.path) for s in (config.users, config.items) if s]
    if config.schema:
        patterns.append(config.resolve(config.schema))
    return sorted({f for p in patterns for f in sources.list_files(p)})


def _file_stamp(path: str) -> list:
    if "://" in path:
        import tensorflow as tf

        stat = tf.io.gfile.stat(path)
        return [path, stat.length, stat.mtime_nsec]
    stat = os.stat(path)
    return [path, stat.st_size, stat.st_mtime_ns]


def upstream_fingerprint(config: config_lib.PipelineConfig, span: int | None = None) -> str:
    """A digest of what the steps up to the Trainer read: their settings and the data files.

    The settings are the parameters those steps get (`pipeline.trainer_config`,
    `tuner_config`, `data_settings`); a file counts by its path, size and
    modification time, as TFX's ExampleGen fingerprints its input.
    """
    from recsearch.pipeline import pipeline

    settings = {
        "data": config_lib.to_json(config_lib.data_settings(config)),
        "trainer": pipeline.trainer_config(config),
        "tuner": pipeline.tuner_config(config) if config.tuning.max_trials else None,
        "files": [_file_stamp(f) for f in data_files(config, span)],
    }
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fresh_key(serving_dir: str, state_dir: str) -> str:
    """Names the newest served version (and its release record) and the last run's schema."""
    from recsearch import versions
    from recsearch.components.served_model.executor import schema_state_path

    digest = hashlib.sha256()
    served = versions.served_versions(serving_dir)
    if served:
        digest.update(str(served[-1]).encode())
        digest.update(
            json.dumps(
                versions.read_release(os.path.join(serving_dir, str(served[-1]))),
                sort_keys=True,
                default=str,
            ).encode()
        )
    schema = schema_state_path(state_dir)
    if os.path.isfile(schema):
        with open(schema, "rb") as f:
            digest.update(f.read())
    return f"v{served[-1] if served else 0}-{digest.hexdigest()[:12]}"


def newest_served(serving_dir: str) -> int:
    from recsearch import versions

    served = versions.served_versions(serving_dir)
    return served[-1] if served else 0


def read_last_run(state_dir: str) -> dict:
    path = os.path.join(state_dir, LAST_RUN)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}  # a damaged record only costs a fresh read of the served model


def served_key(serving_dir: str, state_dir: str, fingerprint: str) -> str:
    """ServedModel's cache key for a run whose upstream steps read `fingerprint`."""
    last = read_last_run(state_dir)
    if (
        last.get("upstream") == fingerprint
        and last.get("served_after") == newest_served(serving_dir)
        and last.get("served_key")
    ):
        return last["served_key"]
    return _fresh_key(serving_dir, state_dir)


def record_run(serving_dir: str, state_dir: str, fingerprint: str, key: str) -> None:
    """After a completed run: what it read and the key it used, for the next run's `served_key`."""
    os.makedirs(state_dir, exist_ok=True)
    record = {
        "upstream": fingerprint,
        "served_key": key,
        "served_after": newest_served(serving_dir),
    }
    path = os.path.join(state_dir, LAST_RUN)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
    os.replace(path + ".tmp", path)
