"""Running the pipeline locally: paths, metadata, data checks, progress, summary."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable

from recsearch import config as config_lib
from recsearch import errors
from recsearch.apps.progress import (
    ComponentProgress,
    MemorySampler,
    captured_logs,
    release_freed_memory,
)
from recsearch.apps.results import RunSummary, connection_config, summarize
from recsearch.data import spans, tables
from recsearch.data.splits import EVAL, HELDOUT, sample_users, split_interactions
from recsearch.features import FeatureSpec


@dataclasses.dataclass(frozen=True)
class LocalPaths:
    """Where a local run writes.

    Attributes:
      output: The output root.
      pipeline_root: TFX artifacts of this pipeline.
      metadata: The ML Metadata SQLite file (shared by pipelines under `output`).
      serving: The model base directory the Pusher writes versions into.
      logs: Full logs of each run.
    """

    output: str
    pipeline_root: str
    metadata: str
    serving: str
    logs: str

    @classmethod
    def under(cls, output: str, name: str) -> LocalPaths:
        output = os.path.abspath(output)
        return cls(
            output=output,
            pipeline_root=os.path.join(output, "pipelines", name),
            metadata=os.path.join(output, "metadata.sqlite"),
            serving=os.path.join(output, "serving", name),
            logs=os.path.join(output, "logs"),
        )


def check_data(config: config_lib.PipelineConfig, span: int | None = None) -> dict:
    """Loads, joins and splits the data once, so bad input fails before TFX starts.

    Returns:
      Row counts per split, and under "story" the lines `validate` prints.

    Raises:
      ConfigError, DataError: With the file, column and row at fault.
    """
    with errors.collecting() as found:
        FeatureSpec.from_config(config)
        pattern = None
        path = config.resolve(config.interactions.path)
        if spans.has_spans(path):
            _, pattern = spans.select(path, span, config.interactions.span_window)
        frame, catalog = tables.load_all(config, pattern)
        parts = split_interactions(frame, config.split, config.task)
        # What ExampleGen writes: the eval split is the sample of users the Evaluator judges.
        judged = sample_users(parts[EVAL], config.evaluation.max_users)
        if not found:  # with a bad column the split is no evidence
            empty_splits(config, frame, parts, judged, pattern or path)
    rows = {name: len(part) for name, part in {**parts, EVAL: judged}.items()}
    rows["story"] = data_story(config, frame, catalog, parts, judged)
    return rows


def empty_splits(config: config_lib.PipelineConfig, frame, parts, judged, path: str) -> None:
    """Reports an eval split that would be empty, and why, where ExampleGen would fail later.

    (The split keeps at least one interaction of each user in train.)
    """
    import math

    from recsearch import features as keys
    from recsearch.data.splits import eval_counts

    if not len(frame) or len(judged):
        return  # an empty log is the table check's to report
    fraction = config.split.eval_fraction
    per_user = frame.groupby(keys.USER_ID).size().to_numpy()
    if not eval_counts(per_user, fraction).sum():
        need = max(2, math.ceil(0.5 / fraction)) if fraction > 0 else None
        why = (
            f"no user has enough interactions to hold one out at split.eval_fraction "
            f"{fraction} (the most any user has is {per_user.max()}"
            + (f"; holding one out takes {need})" if need else ")")
            + "; add data or raise split.eval_fraction"
        )
    else:
        why = (
            f"all {len(parts[HELDOUT]):,} held-out rows name items never in train "
            "(split.drop_unseen_items) or repeat an item the user has in train; add data"
        )
    errors.report(errors.DataError(f"the eval split would be empty: {why}", path))


def data_story(config: config_lib.PipelineConfig, frame, catalog, parts, judged=None) -> list[str]:
    """What `validate` tells about the data: sizes, time span, the split, what was dropped.

    `judged`: the eval rows of the users the Evaluator judges (`evaluation.max_users`).
    """
    from recsearch import features as keys
    from recsearch.data import splits
    from recsearch.features import FeatureSpec
    from recsearch.model_registry import candidates_for

    users, items = frame[keys.USER_ID].nunique(), frame[keys.ITEM_ID].nunique()
    lines = [f"{len(frame):,} interactions of {users:,} users with {items:,} items"]
    if catalog is not None:
        cold = len(set(catalog[keys.ITEM_ID]) - set(frame[keys.ITEM_ID]))
        lines.append(f"items table: {len(catalog):,} items, {cold:,} of them never in the log")
        absent = int((~frame[keys.ITEM_ID].isin(set(catalog[keys.ITEM_ID]))).sum())
        if absent:
            lines.append(
                f"{absent:,} interactions name items missing from the items table "
                "(they get empty item features)"
            )
    if keys.TIMESTAMP in frame and len(frame):
        first, last = (
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(t)))
            for t in (frame[keys.TIMESTAMP].min(), frame[keys.TIMESTAMP].max())
        )
        lines.append(f"from {first} to {last} UTC")
    train, evaluation, heldout = parts[splits.TRAIN], parts[splits.EVAL], parts[splits.HELDOUT]
    lines.append(
        f"split {config.split.method}: each user's "
        f"{'latest' if config.split.method == 'temporal' else 'random'} "
        f"{config.split.eval_fraction:.0%} held out: {len(train):,} train, "
        f"{len(heldout):,} held out"
    )
    dropped = len(heldout) - len(evaluation)
    if dropped:
        unseen = int((~heldout[keys.ITEM_ID].isin(set(train[keys.ITEM_ID]))).sum())
        reasons = [f"{unseen:,} name items never in train"] if unseen else []
        if dropped > unseen:
            reasons.append(f"{dropped - unseen:,} repeat a pair already in train or held out")
        lines.append(
            f"{len(evaluation):,} held-out rows are scored; {dropped:,} are not "
            f"({'; '.join(reasons)}); the refit still trains on all of them"
        )
    if judged is not None and len(judged) < len(evaluation):
        lines.append(
            f"the Evaluator judges a fixed sample of {judged[keys.USER_ID].nunique():,} of "
            f"the {evaluation[keys.USER_ID].nunique():,} scored users ({len(judged):,} rows; "
            "evaluation.max_users)"
        )
    if config.model.name == "auto":
        spec = FeatureSpec.from_config(config)
        chosen, skipped = candidates_for(config.task, items, users, spec.has_fields)
        tried = ", ".join(c.label for c in chosen)
        lines.append(f"model auto will compare {tried}")
        lines += [f"model auto skips {label}: {why}" for label, why in skipped.items()]
    else:
        lines.append(f"model {config.model.name}")
    return lines


def validate(load_config, span: int | None = None) -> tuple[config_lib.PipelineConfig, dict]:
    """Loads the config with `load_config()` and checks its data; reports every problem at once.

    A config with mistakes is still used, as far as it could be read, to
    check the data, so a misspelled column is reported with a bad setting.

    Raises:
      ConfigError, DataError: The only problem.
      Problems: Several, each naming its key, or its file, column and row.
    """
    with errors.collecting():
        try:
            config = load_config()
        except errors.RecsearchError as error:
            config = getattr(error, "partial_config", None)
            for problem in errors.flatten(error):
                errors.report(problem)
            if config is None:
                raise errors.Problems([]) from None  # reported: nothing more to check
        rows = check_data(config, span)
    return config, rows


def local_pipeline(config: config_lib.PipelineConfig, paths: LocalPaths, **options):
    """The pipeline wired to the local paths (SQLite metadata, the config's Beam settings).

    `options` go to `create_pipeline` (enable_cache, range_config, train_only).
    """
    from recsearch.pipeline.pipeline import create_pipeline

    for directory in (paths.pipeline_root, paths.logs):  # the Pusher makes the serving dir
        os.makedirs(directory, exist_ok=True)
    return create_pipeline(
        config,
        pipeline_root=paths.pipeline_root,
        serving_dir=paths.serving,
        metadata_connection_config=connection_config(paths.metadata),
        beam_pipeline_args=config.beam.pipeline_args(data_bytes=interaction_bytes(config)),
        **options,
    )


def interaction_bytes(config: config_lib.PipelineConfig) -> int:
    """The size of the interaction files the run reads (every span of a `{SPAN}` path)."""
    from recsearch.data import sources

    path = config.resolve(config.interactions.path)
    return sources.total_bytes(sources.list_files(spans.any_span(path)))


def run(
    config: config_lib.PipelineConfig,
    output: str,
    enable_cache: bool = True,
    quiet: bool = False,
    span: int | None = None,
    rows: dict[str, int] | None = None,
    measure_memory: bool = False,
    in_child: Iterable[str] | None = None,
) -> RunSummary:
    """Checks the data, runs the pipeline with LocalDagRunner and summarises the run.

    With `span`, a `{SPAN}` interactions path reads that span (and the
    `span_window` before it); by default the newest. `rows` are the split
    sizes of a `validate` already done; without them the data is read and
    checked here first (`check_data`), so that bad data fails before anything
    is written.
    `in_child` names the components run in a child process of their own; by
    default the Trainer and Tuner of a large log (`child_process_nodes`).

    Raises:
      ConfigError, DataError: Bad config or data, before anything runs.
      AnomaliesError: The data does not match the schema (nothing is trained).
    """
    from tfx import v1 as tfx

    paths = LocalPaths.under(output, config.name)
    if rows is None:
        rows = check_data(config, span)
    range_config = None
    if span is not None:
        range_config = tfx.proto.RangeConfig(
            static_range=tfx.proto.StaticRange(start_span_number=span, end_span_number=span)
        )
    from recsearch.apps import reruns, retention
    from recsearch.pipeline.pipeline import state_dir

    state = state_dir(paths.pipeline_root, config.name)
    upstream = reruns.upstream_fingerprint(config, span)
    served_key = reruns.served_key(paths.serving, state, upstream)
    pipeline = local_pipeline(
        config,
        paths,
        enable_cache=enable_cache,
        range_config=range_config,
        served_key=served_key,
    )
    log_path = os.path.join(paths.logs, f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}.log")
    stream = None if quiet else sys.stderr
    progress = ComponentProgress(
        total=len(pipeline.components), stream=stream, on_finished=release_freed_memory
    )
    if not quiet:
        if rows:
            print(f"Data: {rows['train']} train and {rows['eval']} eval interactions.", flush=True)
        print(f"Running pipeline '{config.name}'; full log: {log_path}", flush=True)
    sampler = MemorySampler(progress) if measure_memory else contextlib.nullcontext()
    with captured_logs(log_path, progress), sampler, stop_on_signals():
        run_dag(pipeline, in_child=child_process_nodes(config) if in_child is None else in_child)
    reruns.record_run(paths.serving, state, upstream, served_key)
    wrote = retention.newest_run_bytes(paths.metadata, config.name)
    cleaned = retention.clean(
        paths.metadata, config.name, config.release.keep_runs, paths.serving, paths.logs
    )
    with captured_logs(log_path, ComponentProgress(0, stream=None)):
        summary = summarize(paths.metadata, config.name)
    summary.timings = dict(progress.timings)
    summary.peak_rss = dict(progress.peak_rss)
    summary.disk = retention.Disk(
        wrote=wrote,
        output=retention.tree_bytes(paths.output),
        freed=cleaned.freed,
        kept_runs=config.release.keep_runs,
    )
    return summary


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals():
    """SIGTERM and SIGINT raise `RunStopped` in the runner while the block runs.

    The handler first kills the run's own processes (Beam's workers, the
    Trainer's child), then raises: an Exception (not KeyboardInterrupt) unwinds
    through TFX's launcher, which marks the running step FAILED in ML Metadata
    and removes its output directories. A scheduler's or systemd's SIGTERM is thus handled
    as Ctrl-C is. SIGKILL cannot be caught: the child then dies with its parent
    (PR_SET_PDEATHSIG). Off the main thread nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        del frame
        # Once: a second signal while unwinding must not interrupt the clean-up.
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        # The run's own processes first (Beam's workers, the Trainer's child): Beam's
        # clean-up waits on a worker in the middle of a bundle, and the run hung there.
        # Beam's threads that watch the workers fail when they are killed: to the log,
        # not the terminal.
        threading.excepthook = _to_log
        stop_children()
        raise errors.RunStopped(signum)

    previous = {each: signal.signal(each, stop) for each in STOP_SIGNALS}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _to_log(args) -> None:
    import logging

    logging.info(
        "after the stop, thread %s ended: %s: %s",
        getattr(args.thread, "name", "?"),
        args.exc_type.__name__,
        args.exc_value,
    )


def stop_children() -> list[int]:
    """Kills every process this one started (and theirs); returns their ids."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(children, timeout=5)
    return [child.pid for child in children]


# What a large local run executes in a child process of its own (apps/child_executor.py).
IN_CHILD = ("Tuner", "Trainer")


# `always`, `never` or `auto` (the default): whether the Trainer and Tuner run in a
# child process of the local run, whatever the log's size.
CHILD_PROCESS_ENV = "RECSEARCH_CHILD_PROCESS"


def child_process_nodes(config: config_lib.PipelineConfig) -> tuple[str, ...]:
    """IN_CHILD when the interaction files are large (the size at which Beam's `auto` mode
    starts its workers), else none: the child's import of TensorFlow costs about 7 s.

    RECSEARCH_CHILD_PROCESS=always (or never) decides it whatever the size.

    Raises:
      ConfigError: The variable holds another value.
    """
    from recsearch.config.runtime import AUTO_MULTI_PROCESSING_BYTES

    choice = os.environ.get(CHILD_PROCESS_ENV, "auto").strip().lower() or "auto"
    if choice not in ("always", "never", "auto"):
        raise errors.ConfigError(f"{CHILD_PROCESS_ENV}={choice!r}: expected always, never or auto")
    if choice != "auto":
        return IN_CHILD if choice == "always" else ()
    return IN_CHILD if interaction_bytes(config) >= AUTO_MULTI_PROCESSING_BYTES else ()


def run_dag(pipeline, in_child: Iterable[str] = ()) -> None:
    """Runs a pipeline with LocalDagRunner, never caching the nodes that must run each time.

    ServedModel is cached when the runner gave it a `served_key` (apps/reruns.py).

    The nodes named in `in_child` run their executor in a spawned process, so
    the memory they use is given back when they end (apps/child_executor.py).
    The Trainer and Tuner are routed through the child executor either way, so
    that the choice does not change their cache key.
    """
    from tfx import v1 as tfx
    from tfx.dsl.compiler import compiler

    from recsearch.apps.child_executor import run_in_child, spawning
    from recsearch.pipeline.pipeline import NEVER_CACHED

    ir = compiler.Compiler().compile(pipeline)
    for node in ir.nodes:
        parameters = node.pipeline_node.parameters.parameters
        keyed = "served_key" in parameters and parameters["served_key"].field_value.string_value
        if node.pipeline_node.node_info.id in NEVER_CACHED and not keyed:
            node.pipeline_node.execution_options.caching_options.enable_cache = False
    run_in_child(ir, IN_CHILD)
    with spawning(in_child):
        tfx.orchestration.LocalDagRunner().run_with_ir(ir)
