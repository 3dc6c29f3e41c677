"""The data path of RecsysExampleGen as Beam transforms: read, check, join, split, encode.

No step holds the whole log in one process:

- each interaction file is streamed in chunks by a worker of its own
  (`sources.read_chunks`), and each chunk is checked and typed in that
  worker; a bad value becomes a problem record (file, column, first row,
  how many rows), never an exception in a worker;
- the items table (one row per item) is read once and joined onto the
  interactions as a side input: text and images are read once per item;
- the users table is joined with CoGroupByKey on the user id, the same
  shuffle that gathers each user's interactions for the per-user split
  (`splits.held_out`, the rule `splits.split_interactions` applies to a
  whole frame);
- rows are encoded to tf.Examples in batches with tfx_bsl's coder.

Problems from every worker are gathered into one list; the executor raises
them together (`problems_from_records`) once the pipeline has finished, so a
bad log fails the step with every file, column and row at fault, as the
in-memory check did.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
from tfx_bsl.coders import example_coder

from recsearch.config import PipelineConfig
from recsearch.data import sources, splits, tables
from recsearch.errors import DataError, RecsearchError, collecting, flatten
from recsearch.modules import features as keys
from recsearch.modules.features import FeatureSpec

PROBLEMS = "problems"
_UNITS = "units"
# The fields of an interaction as it travels to its user's group (None where not configured).
_FIELDS = (keys.ITEM_ID, keys.RATING, keys.TIMESTAMP, keys.EVENT, keys.SESSION, keys.WEIGHT)
_ENCODE_BATCH = 4096


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


class ReadInteractions(beam.DoFn):
    """A file of the log, streamed in chunks: (user, interaction) pairs, problems, units."""

    def __init__(self, config: PipelineConfig):
        self._config = config

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
                if typed is None or found:
                    continue
                yield from _pairs(typed, index)
        except RecsearchError as error:  # the file itself cannot be read
            for e in flatten(error):
                yield beam.pvalue.TaggedOutput(PROBLEMS, problem_record(e))


def _pairs(typed: pd.DataFrame, index: int) -> Iterator[tuple[str, tuple]]:
    """(user, (file index, row, item, rating, timestamp, event, session, weight))."""
    n = len(typed)
    none = [None] * n
    columns = [typed[name].tolist() if name in typed else none for name in _FIELDS]
    for user, row, *values in zip(typed[keys.USER_ID].tolist(), typed["_row"].tolist(), *columns):
        yield user, (index, row, *values)


@dataclasses.dataclass(frozen=True)
class SideTable:
    """A users or items table: feature tuples by id, and the tuple for an unknown id."""

    names: tuple[str, ...]
    rows: dict[str, tuple]
    default: tuple


def load_side_table(config: PipelineConfig, entity: str) -> SideTable | None:
    """The side table of `entity` as feature tuples, or None when not configured."""
    frame = tables.load_entities(config, entity)
    if frame is None:
        return None
    names = tuple(frame.columns)
    default = []
    for name in names:
        if pd.api.types.is_float_dtype(frame[name]):
            default.append(float(frame[name].mean()) if len(frame) else 0.0)
        else:
            default.append(b"" if name == keys.IMAGE else "")
    rows = dict(zip(frame.index, zip(*(frame[n].tolist() for n in names))))
    return SideTable(names, rows, tuple(default))


class ReadSideTable(beam.DoFn):
    """Reads one side table whole (one row per user or item) in one worker."""

    def __init__(self, config: PipelineConfig, entity: str):
        self._config, self._entity = config, entity

    def process(self, _) -> Iterator:
        table, found = _checked(load_side_table, self._config, self._entity)
        for record in found:
            yield beam.pvalue.TaggedOutput(PROBLEMS, record)
        if table is not None and not found:
            yield table


class SplitUser(beam.DoFn):
    """One user's interactions and user row: the user's train, held-out and eval rows.

    Eval rows still name items that may be absent from train; `KeepSeenItems`
    drops those when the config asks.
    """

    def __init__(self, config: PipelineConfig, columns: tuple[str, ...]):
        self._config, self._columns = config, columns

    def process(self, element, items: SideTable | None, users_default: tuple | None) -> Iterator:
        user, grouped = element
        interactions = sorted(grouped["interactions"])  # log order: file, then row
        if interactions:  # else a user of the users table without interactions
            yield from self._split(user, interactions, list(grouped["users"]), items, users_default)

    def _split(self, user, interactions, user_rows, items, users_default) -> Iterator:
        user_features = user_rows[0] if user_rows else users_default
        config = self._config
        has_time = config.interactions.timestamp is not None
        times = np.array([r[4] for r in interactions], dtype=np.int64) if has_time else None
        is_eval = splits.held_out(user, len(interactions), times, config.split, config.task)
        rows = [self._row(user, r, user_features, items) for r in interactions]
        order = np.lexsort((np.arange(len(rows)), times)) if has_time else range(len(rows))
        held = []
        for i in order:
            if is_eval[i]:
                held.append(i)
                yield beam.pvalue.TaggedOutput(splits.HELDOUT, rows[i])
            else:
                yield beam.pvalue.TaggedOutput(splits.TRAIN, rows[i])
        evaluation = held
        if config.task != "rating":  # one row per pair, the last; none already in train
            trained = {interactions[i][2] for i in range(len(rows)) if not is_eval[i]}
            last = {interactions[i][2]: i for i in held}
            evaluation = [i for i in held if last[interactions[i][2]] == i]
            evaluation = [i for i in evaluation if interactions[i][2] not in trained]
        for i in evaluation:
            yield beam.pvalue.TaggedOutput(splits.EVAL, rows[i])

    def _row(self, user: str, interaction: tuple, user_features, items: SideTable | None) -> tuple:
        _, _, item, *values = interaction
        fields = dict(zip(_FIELDS, (item, *values)))
        fields[keys.USER_ID] = user
        if user_features is not None:
            fields.update(zip(self._user_names, user_features))
        if items is not None:
            fields.update(zip(items.names, items.rows.get(item, items.default)))
        return tuple(fields.get(name) for name in self._columns)

    def setup(self):
        self._user_names = _user_names(self._config)


def _user_names(config: PipelineConfig) -> tuple[str, ...]:
    """The user side features, in the order `tables.load_entities` gives them."""
    users = config.users
    if users is None:
        return ()
    return tuple(
        keys.side_feature("user", c) for c in (*users.categorical, *users.hashed, *users.numeric)
    )


def catalog_rows(
    items: SideTable, users_default: tuple | None, user_names: tuple[str, ...], spec: FeatureSpec
) -> Iterator[tuple]:
    """One row per item of the items table, with empty interaction fields.

    Interaction fields are empty (numbers without a value, timestamp 0), user
    features those of an unknown user.
    """
    empty = {"bytes": "", "float": None, "int": 0}
    blank = {name: empty[kind] for name, kind in spec.raw_types().items()}
    if users_default is not None:
        blank.update(zip(user_names, users_default))
    for item, features in items.rows.items():
        fields = dict(blank)
        fields[keys.ITEM_ID] = item
        fields.update(zip(items.names, features))
        yield tuple(fields.values())


def rows_to_record_batch(rows: list[tuple], spec: FeatureSpec) -> pa.RecordBatch:
    """Row tuples (in `spec.raw_types()` order) as a RecordBatch of one-value lists.

    None and NaN become null lists, which encode as features without a value,
    as TFX's CsvExampleGen writes empty cells.
    """
    arrays = []
    names = list(spec.raw_types())
    for position, kind in enumerate(spec.raw_types().values()):
        column = [row[position] for row in rows]
        if kind == "bytes":
            values = [v if isinstance(v, bytes) else str(v or "").encode() for v in column]
            missing = np.zeros(len(values), dtype=bool)
            typed = pa.array(values, type=pa.binary())
        else:
            numbers = np.array(
                [math.nan if v is None else float(v) for v in column], dtype=np.float64
            )
            missing = np.isnan(numbers)
            dtype = np.float32 if kind == "float" else np.int64
            typed = pa.array(numbers[~missing].astype(dtype))
        offsets = np.concatenate([[0], np.cumsum(~missing)]).astype(np.int32)
        arrays.append(pa.ListArray.from_arrays(pa.array(offsets), typed, mask=pa.array(missing)))
    return pa.RecordBatch.from_arrays(arrays, names)


def encode_rows(rows: list[tuple], spec: FeatureSpec) -> list[bytes]:
    return example_coder.RecordBatchToExamples(rows_to_record_batch(rows, spec))


def _keep_seen(row: tuple, trained: dict) -> bool:
    return row[1] in trained  # position 1 is the item id (spec.raw_types() order)


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
def ReadSplits(
    pipeline: beam.Pipeline, config: PipelineConfig, files: list[str]
) -> dict[str, beam.PCollection]:
    """Encoded tf.Examples of every split, and the problems found on the way.

    Returns:
      {"train", "eval", "heldout"[, "catalog"]: PCollection of serialized
      tf.Examples, PROBLEMS: PCollection of problem records}.
    """
    spec = FeatureSpec.from_config(config)
    columns = tuple(spec.raw_types())
    logs = (
        pipeline
        | "LogFiles" >> beam.Create(list(enumerate(files)))
        | "SpreadFiles" >> beam.Reshuffle()
        | "ReadLog"
        >> beam.ParDo(ReadInteractions(config)).with_outputs(PROBLEMS, _UNITS, main="rows")
    )
    problems = [logs[PROBLEMS]]
    problems.append(
        logs["rows"]
        | "CountLog" >> beam.combiners.Count.Globally()
        | "EmptyLog" >> beam.FlatMap(_empty_log, config=config, path=files[0])
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
    items = beam.pvalue.AsSingleton(side["item"], default_value=None) if side["item"] else None
    if side["user"] is not None:
        user_rows = side["user"] | "UserRows" >> beam.FlatMap(lambda t: t.rows.items())
        users_default = beam.pvalue.AsSingleton(
            side["user"] | "UsersDefault" >> beam.Map(lambda t: t.default)
        )
    else:
        user_rows = pipeline | "NoUsers" >> beam.Create([])
        users_default = None
    grouped = {"interactions": logs["rows"], "users": user_rows} | "ByUser" >> beam.CoGroupByKey()
    parts = grouped | "SplitUsers" >> beam.ParDo(
        SplitUser(config, columns), items=items, users_default=users_default
    ).with_outputs(splits.TRAIN, splits.HELDOUT, splits.EVAL)
    rows = {name: parts[name] for name in (splits.TRAIN, splits.HELDOUT, splits.EVAL)}
    if config.split.drop_unseen_items:
        trained = beam.pvalue.AsDict(
            rows[splits.TRAIN]
            | "TrainItems" >> beam.Map(lambda r: (r[1], None))
            | "DistinctTrainItems" >> beam.Distinct()
        )
        rows[splits.EVAL] = rows[splits.EVAL] | "KeepSeenItems" >> beam.Filter(
            _keep_seen, trained=trained
        )
    eval_count = rows[splits.EVAL] | "CountEval" >> beam.combiners.Count.Globally()
    problems.append(
        eval_count
        | "EmptyEval"
        >> beam.FlatMap(_empty_eval, path=files[0] if files else config.interactions.path)
    )
    if config.items is not None:
        user_names = _user_names(config)
        rows[splits.CATALOG] = side["item"] | "Catalog" >> beam.FlatMap(
            lambda table, default: catalog_rows(table, default, user_names, spec),
            default=users_default,
        )
    encoded = {
        name: (
            part
            | f"Batch[{name}]"
            >> beam.BatchElements(min_batch_size=256, max_batch_size=_ENCODE_BATCH)
            | f"Encode[{name}]" >> beam.FlatMap(encode_rows, spec=spec)
        )
        for name, part in rows.items()
    }
    encoded[PROBLEMS] = problems | "AllProblems" >> beam.Flatten()
    return encoded


def _empty_log(count: int, config: PipelineConfig, path: str) -> Iterator[tuple]:
    if count == 0 and config.task == "rating":
        column = config.interactions.rating
        yield _derived(
            path, f"{path}, column '{column}': no row has a rating, but task is 'rating'"
        )
    elif count == 0:
        yield _derived(path, f"{path}: the log has no data rows")


def _empty_eval(count: int, path: str) -> Iterator[tuple]:
    if count == 0:
        yield _derived(path, f"{path}: the eval split is empty; add data or raise eval_fraction")
