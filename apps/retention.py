"""Output that does not pile up: keep the artifacts of a pipeline's last runs, remove the rest.

Follows TFX's garbage-collection policy `KeepMostRecentlyPublished`, counted
in runs rather than per output: an artifact is kept when any execution of the
newest `keep_runs` runs read or wrote it (a cached step links the artifact it
reused, so a long-cached Transform output stays), or when the newest served
version's release record points into it (the judged model the next run
compares against). Every other artifact of the pipeline has its directory
removed and is marked DELETED in ML Metadata, as TFX's garbage collector
does: TFX's cache never reuses an artifact that is not LIVE, so a later run
recomputes what it needs. The executions and their lineage stay in ML
Metadata (its client has no delete; the SQLite file grows by about 80 KB a
run).

Run logs beyond the newest `keep_runs` are removed too.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from recsearch.apps.results import connection_config
from recsearch.errors import ConfigError

RUN_CONTEXT = "pipeline_run"
PIPELINE_CONTEXT = "pipeline"


@dataclasses.dataclass(frozen=True)
class Disk:
    """What a local run did to the disk.

    Attributes:
      wrote: Bytes the run's executed steps wrote (cached steps write nothing).
      output: Bytes the whole output folder holds after the run.
      freed: Bytes removed from runs older than the last `kept_runs`.
      kept_runs: release.keep_runs.
    """

    wrote: int
    output: int
    freed: int
    kept_runs: int

    def line(self) -> str:
        freed = f"; {human_bytes(self.freed)} of older runs removed" if self.freed else ""
        return (
            f"Disk: this run wrote {human_bytes(self.wrote)}; the output folder holds "
            f"{human_bytes(self.output)} (the last {self.kept_runs} runs kept{freed}: "
            "release.keep_runs)"
        )


@dataclasses.dataclass
class Cleaned:
    """What `clean` removed.

    Attributes:
      runs: How many runs the pipeline has in ML Metadata.
      kept_runs: How many of the newest were kept whole.
      artifacts: Artifacts removed (directory deleted, marked DELETED).
      freed: Bytes freed (artifact directories and logs).
      logs: Log files removed.
    """

    runs: int = 0
    kept_runs: int = 0
    artifacts: int = 0
    freed: int = 0
    logs: int = 0


def tree_bytes(path: str, unlinked_only: bool = False) -> int:
    """The disk a file or directory tree holds (0 when it does not exist).

    A file hard-linked twice in the tree counts once (ServedModel links its
    baseline to the Trainer's artifact), as `du` counts it. With
    `unlinked_only`, files with another link anywhere are not counted (a
    baseline linked to an older artifact was not written by this run).
    """
    if os.path.isfile(path):
        return os.path.getsize(path)
    seen, total = set(), 0
    for root, _, files in os.walk(path):
        for name in files:
            stat = os.lstat(os.path.join(root, name))
            if unlinked_only and stat.st_nlink > 1:
                continue
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def owned_directory(uri: str) -> str:
    """What an artifact owns on disk: its URI, or for a value artifact (`.../<key>/<execution
    id>/value`) the execution's directory, where its executor may write beside the value
    (RunReport's report.html)."""
    parent = os.path.dirname(uri.rstrip("/"))
    if os.path.basename(uri.rstrip("/")) == "value" and os.path.basename(parent).isdigit():
        return parent
    return uri


def runs_of(store: mlmd.MetadataStore, pipeline_name: str) -> list[list]:
    """The pipeline's runs, oldest first, each as its executions."""
    try:
        pipeline = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name)
    except mlmd.errors.NotFoundError:
        return []
    if pipeline is None:
        return []
    mine = {e.id for e in store.get_executions_by_context(pipeline.id)}
    runs = []
    for context in store.get_contexts_by_type(RUN_CONTEXT):
        executions = [e for e in store.get_executions_by_context(context.id) if e.id in mine]
        if executions:
            runs.append(executions)
    return sorted(runs, key=lambda run: min(e.id for e in run))


def _referenced_paths(serving_dir: str | None) -> list[str]:
    """Paths the newest served version's release record points at: its judged model, the
    next run's baseline. (An older version rolled back to is its own baseline when its
    judged model is gone: components/served_model.)"""
    from recsearch import versions

    served = versions.served_versions(serving_dir) if serving_dir else []
    if not served:
        return []
    record = versions.read_release(os.path.join(serving_dir, str(served[-1])))
    return [str(record[k]) for k in ("judged_model", "released_model") if record.get(k)]


def clean(
    metadata_path: str,
    pipeline_name: str,
    keep_runs: int,
    serving_dir: str | None = None,
    logs_dir: str | None = None,
) -> Cleaned:
    """Removes the artifacts of a pipeline's runs older than the newest `keep_runs`.

    Args:
      metadata_path: The ML Metadata SQLite file.
      pipeline_name: Whose runs.
      keep_runs: How many of the newest runs keep their artifacts (at least 1).
      serving_dir: The model base directory; what its versions point at is kept.
      logs_dir: Where the run logs are (`<pipeline>-<time>.log`).

    Raises:
      ConfigError: keep_runs < 1.
    """
    if keep_runs < 1:
        raise ConfigError(f"keep_runs must be at least 1, got {keep_runs}")
    result = Cleaned()
    if os.path.isfile(metadata_path):
        store = mlmd.MetadataStore(connection_config(metadata_path))
        runs = runs_of(store, pipeline_name)
        result.runs, result.kept_runs = len(runs), min(len(runs), keep_runs)
        if len(runs) > keep_runs:
            _remove_artifacts(store, runs, keep_runs, serving_dir, result)
    if logs_dir:
        logs = sorted(glob.glob(os.path.join(glob.escape(logs_dir), f"{pipeline_name}-*.log")))
        for path in logs[:-keep_runs]:
            result.freed += os.path.getsize(path)
            os.remove(path)
            result.logs += 1
    return result


def _remove_artifacts(store, runs, keep_runs: int, serving_dir, result: Cleaned) -> None:
    every = [e for run in runs for e in run]
    events = store.get_events_by_execution_ids([e.id for e in every])
    recent = {e.id for run in runs[-keep_runs:] for e in run}
    kept_ids = {ev.artifact_id for ev in events if ev.execution_id in recent}
    candidates = {ev.artifact_id for ev in events} - kept_ids
    referenced = [os.path.normpath(p) for p in _referenced_paths(serving_dir)]
    doomed = []
    for artifact in store.get_artifacts_by_id(sorted(candidates)):
        if artifact.state == metadata_store_pb2.Artifact.DELETED or not artifact.uri:
            continue
        uri = os.path.normpath(artifact.uri)
        if any(p == uri or p.startswith(uri + os.sep) for p in referenced):
            continue
        if "://" in artifact.uri:
            continue  # local output only: object stores have their own lifecycle rules
        path = owned_directory(artifact.uri)
        result.freed += tree_bytes(path)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.exists(path):
            os.remove(path)
        artifact.state = metadata_store_pb2.Artifact.DELETED
        doomed.append(artifact)
    if doomed:
        store.put_artifacts(doomed)
    result.artifacts = len(doomed)


def newest_run_bytes(metadata_path: str, pipeline_name: str) -> int:
    """The disk the newest run's own outputs hold (what its executed steps wrote, not reused)."""
    store = mlmd.MetadataStore(connection_config(metadata_path))
    runs = runs_of(store, pipeline_name)
    if not runs:
        return 0
    ran = [e.id for e in runs[-1] if e.last_known_state == metadata_store_pb2.Execution.COMPLETE]
    events = store.get_events_by_execution_ids(ran)
    ids = {ev.artifact_id for ev in events if ev.type == metadata_store_pb2.Event.OUTPUT}
    artifacts = store.get_artifacts_by_id(sorted(ids))
    return sum(tree_bytes(a.uri, unlinked_only=True) for a in artifacts if a.uri)


def human_bytes(size: float) -> str:
    """12.3 MB: decimal units, as `du --si` and file managers print them."""
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
