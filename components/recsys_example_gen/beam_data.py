"""The data path of RecsysExampleGen as Beam transforms: read, check, join, split, encode.

No step holds the whole log in one process, and rows travel in columnar
blocks (pandas frames), not one element each:

- each interaction file is streamed in chunks by a worker
  (`sources.read_chunks`); each chunk is checked and typed there
  (`tables.interactions_from_raw`) and cut into blocks by a hash of the user
  id, one block per user shard; a bad value becomes a problem record (file,
  column, first row, how many rows), never an exception in a worker;
- the users table is cut into the same shards and joined with CoGroupByKey
  on the shard, the shuffle that also gathers every interaction of a user
  into one place for the per-user split (`splits.split_interactions`, the
  same code the in-memory check runs, applied to each shard's users);
- the items table (one row per item) is read once; its light columns
  (categories, numbers) are joined onto interactions as a side input, while
  its content (text, image bytes) is read, written and later decoded once
  per item, in the catalog split; interactions carry it empty
  (`FeatureSpec.content_features`);
- eval rows naming items never trained on are dropped against the set of
  train items (a side input), as the in-memory split drops them;
- rows are encoded to tf.Examples in batches with tfx_bsl's coder.

Problems from every worker are gathered into one list; the executor raises
them together (`problems_from_records`) once the pipeline has finished.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
from tfx_bsl.coders import example_coder

from recsearch import features as keys
from recsearch.config import PipelineConfig
from recsearch.data import sources, splits, tables
from recsearch.errors import DataError, RecsearchError, collecting, flatten
from recsearch.features import FeatureSpec

PROBLEMS = "problems"
_UNITS = "units"
_ENCODE_BATCH = 4096
# Interaction data per user shard (the unit of the per-user split); at least _MIN_SHARDS.
_SHARD_BYTES = 8 << 20
_MIN_SHARDS = 8
_MAX_SHARDS = 4096


def problem_record(error: RecsearchError) -> tuple:
    """A problem as a plain tuple (exceptions with their own arguments do not pickle)."""
    if isinstance(error, DataError):
        return (error.path, error.column, error.row, str(error), getattr(error, "rows", 1), False)
    return ("", None, None, str(error), 1, False)


def _derived(path: str, message: str) -> tuple:
    """A problem that follows from the data as read, such as an empty split.

    Left out when the rows themselves have problems: the rows at fault were
    dropped, so an empty split would only be their symptom.
    """
    return (path, None, None, message, 1, True)


def problems_from_records(records: Iterable[tuple]) -> list[RecsearchError]:
    """One error per file and column (the first row at fault; how many rows in all)."""
    records = list(records)
    if not all(r[5] for r in records):
        records = [r for r in records if not r[5]]
    first: dict[tuple, tuple] = {}
    counts: dict[tuple, int] = {}
    for path, column, row, message, rows, _ in records:
        place = (path, column) if column is not None else (path, message)
        counts[place] = counts.get(place, 0) + rows
        if place not in first or (row or 0) < (first[place][2] or 0):
            first[place] = (path, column, row, message, rows)
    found = []
    for place, (path, column, row, message, rows) in sorted(
        first.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))
    ):
        more = counts[place] - rows
        if more > 0:
            message += f" (and {more} more rows like it in other parts of the file)"
        error = DataError.__new__(DataError)
        RecsearchError.__init__(error, message)
        error.path, error.column, error.row = path, column, row
        found.append(error)
    return found


def _checked(fn, *args) -> tuple[Any, list[tuple]]:
    """`fn(*args)` with every reported problem collected as records."""
    try:
        with collecting():
            return fn(*args), []
    except RecsearchError as error:
        return None, [problem_record(e) for e in flatten(error)]


def shard_count(data_bytes: int) -> int:
    """How many user shards to cut a log of `data_bytes` into."""
    return int(min(_MAX_SHARDS, max(_MIN_SHARDS, data_bytes // _SHARD_BYTES)))


def user_shards(users: pd.Series, shards: int) -> np.ndarray:
    """Each user's shard: a hash of the id that every process computes alike."""
    hashed = pd.util.hash_pandas_object(users.reset_index(drop=True), index=False)
    return (hashed.to_numpy() % np.uint64(shards)).astype(np.int64)


class PackedFrame:
    """A block of rows as one pickled bytes object, and its row count (`len`).

    The blocks meet in the runner for the shuffle (CoGroupByKey), and Beam's
    local runner decodes every value it groups: a 10M-row log held as frames
    of Python strings took the runner past 5 GiB. Packed, it holds their
    bytes, about a seventh of that (on the 1M shop's log); the frame is rebuilt in the worker that
    splits the shard.
    """

    __slots__ = ("data", "rows")

    def __init__(self, rows: int, data: bytes):
        self.rows, self.data = rows, data

    @classmethod
    def of(cls, frame: pd.DataFrame) -> PackedFrame:
        return cls(len(frame), pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))

    def frame(self) -> pd.DataFrame:
        return pickle.loads(self.data)

    def __len__(self) -> int:
        return self.rows

    def __reduce__(self):
        return PackedFrame, (self.rows, self.data)


def _by_shard(frame: pd.DataFrame, users: pd.Series, shards: int) -> Iterator[tuple]:
    """(shard, PackedFrame) for each user shard present in `frame`."""
    for shard, block in frame.groupby(user_shards(users, shards), sort=False):
        yield int(shard), PackedFrame.of(block)


class ReadInteractions(beam.DoFn):
    """A file of the log, streamed in chunks: (shard, block) pairs, problems, units."""

    def __init__(self, config: PipelineConfig, shards: int):
        self._config, self._shards = config, shards

    def process(self, element: tuple[int, str]) -> Iterator:
        index, path = element
        config = self._config
        columns = tables.interaction_columns(config)
        try:
            for raw in sources.read_chunks(config.interactions, path, columns.values()):
                units: set[str] = set()
                typed, found = _checked(tables.interactions_from_raw, config, raw, units)
                for record in found:
                    yield beam.pvalue.TaggedOutput(PROBLEMS, record)
                for unit in units:
                    yield beam.pvalue.TaggedOutput(_UNITS, (unit, path))
                if typed is None or found or typed.empty:
                    continue
                typed["_file"] = index  # log order: file, then row
                yield from _by_shard(typed, typed[keys.USER_ID], self._shards)
        except RecsearchError as error:  # the file itself cannot be read
            for e in flatten(error):
                yield beam.pvalue.TaggedOutput(PROBLEMS, problem_record(e))


class ReadSideTable(beam.DoFn):
    """Reads one side table whole (one row per user or item) in one worker."""

    def __init__(self, config: PipelineConfig, entity: str):
        self._config, self._entity = config, entity

    def process(self, _) -> Iterator:
        table, found = _checked(tables.load_entities, self._config, self._entity)
        for record in found:
            yield beam.pvalue.TaggedOutput(PROBLEMS, record)
        if table is not None and not found:
            yield table


class SplitShard(beam.DoFn):
    """One shard's interactions and users: joined, then split per user.

    Outputs train and heldout frames, eval frames still to be checked
    against the train items (`TRAIN_ITEMS`), and this shard's train items.
    """

    TRAIN_ITEMS = "train_items"

    def __init__(self, config: PipelineConfig):
        self._config = config
        self._content = FeatureSpec.from_config(config).content_features()

    def process(self, element, items: pd.DataFrame | None, user_defaults: dict | None):
        shard, grouped = element
        blocks = [packed.frame() for packed in grouped["interactions"]]
        if blocks:  # else users of the users table without interactions
            user_blocks = [packed.frame() for packed in grouped.get("users", ())]
            yield from self._split(shard, blocks, user_blocks, items, user_defaults)

    def _split(self, shard, blocks, user_blocks, items, user_defaults) -> Iterator:
        frame = pd.concat(blocks, ignore_index=True).sort_values(["_file", "_row"], kind="stable")
        frame = frame.reset_index(drop=True)
        if user_defaults is not None:  # None: no users table, or one with problems (reported)
            # This shard's users; an unknown user gets the whole table's defaults.
            users = pd.concat(user_blocks) if user_blocks else user_defaults["empty"]
            frame = tables.join_side_features(frame, users, "user", user_defaults["fill"])
        frame = tables.join_side_features(frame, items, "item")
        config = self._config
        for name in self._content:
            frame[name] = b"" if name == keys.IMAGE else ""  # the catalog has it, once
        local = dataclasses.replace(config.split, drop_unseen_items=False)
        parts = splits.split_interactions(frame, local, config.task)
        for name in (splits.TRAIN, splits.HELDOUT, splits.EVAL):
            if len(parts[name]):
                yield beam.pvalue.TaggedOutput(name, (shard, parts[name]))
        for item in parts[splits.TRAIN][keys.ITEM_ID].unique():
            yield beam.pvalue.TaggedOutput(self.TRAIN_ITEMS, item)


def _seen_only(element: tuple[int, pd.DataFrame], trained) -> Iterator[tuple]:
    shard, frame = element
    kept = frame[frame[keys.ITEM_ID].isin(set(trained))]
    if len(kept):
        yield shard, kept


def encode_frames(frame: pd.DataFrame, spec: FeatureSpec) -> Iterator[bytes]:
    """Serialized tf.Examples of a frame's rows, encoded a batch at a time."""
    for start in range(0, len(frame), _ENCODE_BATCH):
        part = frame.iloc[start : start + _ENCODE_BATCH]
        yield from example_coder.RecordBatchToExamples(frame_to_record_batch(part, spec))


def write_shard(element: tuple[int, pd.DataFrame], directory: str, spec: FeatureSpec) -> int:
    """Writes one shard of a split as a GZIP TFRecord file; returns its row count.

    The file is named by the shard, so a retried bundle rewrites the same file
    instead of adding a second copy (a failed run publishes nothing, so a file
    cut short by a crash is never read).
    """
    import tensorflow as tf

    shard, frame = element
    tf.io.gfile.makedirs(directory)
    path = f"{directory}/part-{shard:05d}.tfrecord.gz"
    # Level 1: about three times faster to write than zlib's default, files ~15% larger.
    options = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=1)
    with tf.io.TFRecordWriter(path, options) as w:
        for record in encode_frames(frame, spec):
            w.write(record)
    return len(frame)


def frame_to_record_batch(frame: pd.DataFrame, spec: FeatureSpec) -> pa.RecordBatch:
    """Columns of the feature spec as a RecordBatch of one-value lists.

    Empty numeric cells (NaN, such as a view without a rating) become null
    lists, which encode as features without a value, as TFX's CsvExampleGen
    writes empty cells.
    """
    arrays = []
    names = list(spec.raw_types())
    for name, kind in spec.raw_types().items():
        column = frame[name]
        if kind == "bytes":
            missing = np.zeros(len(column), dtype=bool)
            typed = _binary(column)
        else:
            dtype = np.float32 if kind == "float" else np.int64
            numbers = column.to_numpy(dtype=np.float64)
            missing = np.isnan(numbers)
            typed = pa.array(numbers[~missing].astype(dtype))
        offsets = np.concatenate([[0], np.cumsum(~missing)]).astype(np.int32)
        arrays.append(pa.ListArray.from_arrays(pa.array(offsets), typed, mask=pa.array(missing)))
    return pa.RecordBatch.from_arrays(arrays, names)


def _defaults(users: pd.DataFrame) -> dict:
    """The whole users table's fill for unknown users, and an empty table of its shape."""
    return {"fill": tables.side_defaults(users), "empty": users.iloc[:0]}


def _binary(column: pd.Series) -> pa.Array:
    """A text (or bytes) column as an Arrow binary array, converted in Arrow's C++ loop."""
    values = column.to_numpy(dtype=object)
    try:
        return pa.array(values, type=pa.string()).cast(pa.binary())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # bytes (images), or other values
        return pa.array(
            [v if isinstance(v, bytes) else str(v).encode() for v in values], type=pa.binary()
        )


def _catalog(items: pd.DataFrame, kinds: dict[str, str], users: pd.DataFrame | None):
    return 0, tables.catalog_frame(items, users, kinds)


def _unit_problems(units: list[tuple[str, str]]) -> Iterator[tuple]:
    found = {unit for unit, _ in units}
    if len(found) > 1:
        ms = sorted({path for unit, path in units if unit == "milliseconds"})
        yield problem_record(
            DataError(
                "parts of the log are in unix milliseconds and others in unix seconds; use one "
                "unit (this file is in milliseconds)",
                ms[0],
            )
        )


@beam.ptransform_fn
def ReadSplits(  # Beam's naming of PTransforms
    pipeline: beam.Pipeline,
    config: PipelineConfig,
    files: list[str],
    data_bytes: int,
    split_dirs: dict[str, str],
) -> dict[str, beam.PCollection]:
    """Writes every split as sharded GZIP TFRecords of tf.Examples.

    Args:
      config: The data settings.
      files: The interaction files, in log order.
      data_bytes: Their size, which sets the number of user shards.
      split_dirs: Where each split is written (train, eval, heldout, catalog).

    Returns:
      {split: PCollection of the row count of each file written, PROBLEMS:
      PCollection of problem records}.
    """
    spec = FeatureSpec.from_config(config)
    shards = shard_count(data_bytes)
    logs = (
        pipeline
        | "LogFiles" >> beam.Create(list(enumerate(files)))
        | "SpreadFiles" >> beam.Reshuffle()
        | "ReadLog"
        >> beam.ParDo(ReadInteractions(config, shards)).with_outputs(PROBLEMS, _UNITS, main="rows")
    )
    problems = [logs[PROBLEMS]]
    rows_read = (
        logs["rows"]
        | "LogRows" >> beam.Map(lambda pair: len(pair[1]))
        | "CountLog" >> beam.CombineGlobally(sum)
    )
    problems.append(
        rows_read | "EmptyLog" >> beam.FlatMap(_empty_log, config=config, path=files[0])
    )
    units = logs[_UNITS] | "Units" >> beam.combiners.ToList()
    problems.append(units | "MixedUnits" >> beam.FlatMap(_unit_problems))
    side = {}
    for entity in ("item", "user"):
        if getattr(config, f"{entity}s") is None:
            side[entity] = None
            continue
        read = (
            pipeline
            | f"Start[{entity}s]" >> beam.Create([None])
            | f"Read[{entity}s]"
            >> beam.ParDo(ReadSideTable(config, entity)).with_outputs(PROBLEMS, main="table")
        )
        problems.append(read[PROBLEMS])
        side[entity] = read["table"]

    def as_side(entity, table=None):
        table = side[entity] if table is None else table
        return beam.pvalue.AsSingleton(table, default_value=None) if table is not None else None

    light_items = None
    if side["item"] is not None:
        content = list(spec.content_features())
        light_items = side["item"] | "ItemsWithoutContent" >> beam.Map(
            lambda items: items.drop(columns=content)
        )

    grouped = {"interactions": logs["rows"]}
    user_defaults = None
    if side["user"] is not None:
        user_defaults = beam.pvalue.AsSingleton(
            side["user"] | "UserDefaults" >> beam.Map(_defaults), default_value=None
        )
        grouped["users"] = side["user"] | "UserShards" >> beam.FlatMap(
            lambda users: _by_shard(users, users.index.to_series(), shards)
        )
    parts = (
        grouped
        | "ByUserShard" >> beam.CoGroupByKey()
        | "SplitShards"
        >> beam.ParDo(
            SplitShard(config), items=as_side("item", light_items), user_defaults=user_defaults
        ).with_outputs(splits.TRAIN, splits.HELDOUT, splits.EVAL, SplitShard.TRAIN_ITEMS)
    )
    frames = {name: parts[name] for name in (splits.TRAIN, splits.HELDOUT, splits.EVAL)}
    if config.split.drop_unseen_items:
        trained = parts[SplitShard.TRAIN_ITEMS] | "DistinctTrainItems" >> beam.Distinct()
        frames[splits.EVAL] = frames[splits.EVAL] | "KeepSeenItems" >> beam.FlatMap(
            _seen_only, trained=beam.pvalue.AsList(trained)
        )
    if config.evaluation.max_users is not None:
        frames[splits.EVAL] = _sample_users(frames[splits.EVAL], config.evaluation.max_users)
    problems.append(
        frames[splits.EVAL]
        | "EvalRows" >> beam.Map(len)
        | "CountEval" >> beam.CombineGlobally(sum)
        | "EmptyEval" >> beam.FlatMap(_empty_eval, path=files[0])
    )
    if config.items is not None:
        kinds = spec.raw_types()
        frames[splits.CATALOG] = side["item"] | "Catalog" >> beam.Map(
            _catalog, kinds, as_side("user")
        )
    written = {
        name: part | f"Write[{name}]" >> beam.Map(write_shard, split_dirs[name], spec)
        for name, part in frames.items()
        if name in split_dirs
    }
    if splits.TRAIN in written and splits.HELDOUT in written:
        # Train and heldout are the whole log as read: a row missing from them was lost
        # on the way (by the runner), and the run must not train on what is left.
        rows_written = (
            [written[splits.TRAIN], written[splits.HELDOUT]]
            | "LogRowsWritten" >> beam.Flatten()
            | "CountWritten" >> beam.CombineGlobally(sum)
        )
        problems.append(
            rows_written
            | "LostRows"
            >> beam.FlatMap(_lost_rows, read=beam.pvalue.AsSingleton(rows_read), path=files[0])
        )
    written[PROBLEMS] = problems | "AllProblems" >> beam.Flatten()
    return written


def _sample_users(frames: beam.PCollection, limit: int) -> beam.PCollection:
    """The eval frames of at most `limit` users: those whose keys are lowest.

    A user's rows are all in one shard, so each shard's distinct keys are the
    users'; the `limit`-th lowest key over all shards is the cut.
    """
    cut = (
        frames
        | "EvalUserKeys" >> beam.FlatMap(lambda e: np.unique(_user_keys(e[1])).tolist())
        | "LowestKeys" >> beam.combiners.Top.Smallest(limit)
        | "Cut" >> beam.Map(lambda lowest: lowest[-1] if len(lowest) == limit else None)
    )
    return frames | "SampleEvalUsers" >> beam.FlatMap(
        _users_up_to, cut=beam.pvalue.AsSingleton(cut)
    )


def _user_keys(frame: pd.DataFrame) -> np.ndarray:
    return splits.user_sample_keys(frame[keys.USER_ID])


def _users_up_to(element: tuple[int, pd.DataFrame], cut: int | None) -> Iterator[tuple]:
    shard, frame = element
    if cut is None:  # no more users than the limit
        yield element
        return
    kept = frame[_user_keys(frame) <= cut]
    if len(kept):
        yield shard, kept


def _empty_log(count: int, config: PipelineConfig, path: str) -> Iterator[tuple]:
    if count == 0 and config.task == "rating":
        column = config.interactions.rating
        yield _derived(
            path, f"{path}, column '{column}': no row has a rating, but task is 'rating'"
        )
    elif count == 0:
        yield _derived(path, f"{path}: the log has no data rows")


def _lost_rows(written: int, read: int, path: str) -> Iterator[tuple]:
    if written != read:
        yield problem_record(
            DataError(
                f"{read} rows of the log were read and passed their checks, but {written} "
                f"reached the train and heldout splits: {read - written} were lost between "
                "reading and splitting, by the Beam runner rather than by the data; nothing "
                "was published (run again; if it recurs, set beam.direct_running_mode: "
                "in_memory and report it)",
                path,
            )
        )


def _empty_eval(count: int, path: str) -> Iterator[tuple]:
    if count == 0:
        yield _derived(path, f"{path}: the eval split is empty; add data or raise eval_fraction")
