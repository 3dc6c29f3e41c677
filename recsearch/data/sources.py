"""Reading the configured tables (CSV, TSV, Parquet, JSON lines) with row-accurate errors.

Every cell is read as text first and converted column by column, so a bad value
is reported with its file, column and row (1-based, header not counted) before
anything is trained.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from recsearch.config import Source
from recsearch.errors import DataError, report

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def list_files(pattern: str) -> list[str]:
    """Files matching a path or glob, sorted; local paths or any TensorFlow filesystem."""
    if "://" in pattern:
        import tensorflow as tf

        return sorted(tf.io.gfile.glob(pattern))
    if glob.has_magic(pattern):
        return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    return [pattern] if os.path.isfile(pattern) else []


def total_bytes(paths: list[str]) -> int:
    """The summed size of files, local or on any TensorFlow filesystem."""
    if any("://" in p for p in paths):
        import tensorflow as tf

        return sum(tf.io.gfile.stat(p).length for p in paths)
    return sum(os.path.getsize(p) for p in paths)


def open_file(path: str, mode: str = "rb"):
    """Opens a local file or one on any TensorFlow filesystem (gs://, s3://, ...)."""
    if "://" in path:
        import tensorflow as tf

        return tf.io.gfile.GFile(path, mode)
    return open(path, mode)


def file_format(source: Source, path: str) -> str:
    """The format of one file: the configured one, else inferred from its extension."""
    if source.format:
        return source.format
    ext = os.path.splitext(path)[1].lower()
    if ext not in _EXTENSIONS:
        raise DataError(
            f"cannot infer the format from the extension {ext!r}; "
            "set 'format' to csv, tsv, parquet or jsonl",
            path,
        )
    return _EXTENSIONS[ext]


CHUNK_ROWS = 100_000


def read_source(source: Source, pattern: str, columns: Iterable[str]) -> pd.DataFrame:
    """Reads every file of a source into one frame of strings.

    Args:
      source: How to read the files.
      pattern: The resolved path or glob.
      columns: The columns the config uses; each must exist in every file.

    Returns:
      A frame with exactly `columns` as string columns (missing cells are ""),
      plus `_file` and `_row` for error messages.

    Raises:
      DataError: No file matches, a file cannot be parsed, or a column is missing.
    """
    paths = list_files(pattern)
    if not paths:
        raise DataError("no file matches this path", pattern)
    frames = [chunk for path in paths for chunk in read_chunks(source, path, columns)]
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if result.empty:
        raise DataError("the source has no data rows", pattern)
    return result


def read_chunks(
    source: Source, path: str, columns: Iterable[str], chunk_rows: int | None = None
) -> Iterator[pd.DataFrame]:
    """Streams one file as frames of strings of about `chunk_rows` rows.

    Each frame has exactly `columns` as trimmed text (missing cells are "";
    the configured "no value" tokens become empty cells) plus `_file` and
    `_row` (1-based, header not counted). The file is never held whole in memory (except a
    csv/tsv with a separator of several characters).

    Raises:
      DataError: The file cannot be parsed (naming the row where it can), or
        a column is missing (reported; inside `collecting()` the other
        columns are still read, the missing one as empty cells).
    """
    columns = list(dict.fromkeys(columns))
    chunk_rows = chunk_rows or CHUNK_ROWS
    fmt = file_format(source, path)
    first_row = 1
    try:
        if fmt in ("csv", "tsv"):
            chunks = _delimited_chunks(source, path, fmt, columns, chunk_rows)
        elif fmt == "parquet":
            chunks = _parquet_chunks(path, columns, chunk_rows)
        else:
            chunks = _jsonl_chunks(source, path, chunk_rows)
        names = [str(c) for c in next(chunks)]  # each reader yields the file's columns first
        if fmt in ("csv", "tsv"):
            _check_header(names, columns, source.sep or ("\t" if fmt == "tsv" else ","), path)
        known = ", ".join(names)
        for column in columns:
            if column not in names:
                report(DataError(f"unknown column (columns in the file: {known})", path, column))
        for chunk in chunks:
            frame = _cleaned(chunk, columns, source.na_values)
            frame["_file"] = path
            frame["_row"] = np.arange(first_row, first_row + len(frame))
            first_row += len(frame)
            yield frame
    except DataError:
        raise
    except UnicodeDecodeError as e:
        raise DataError(
            f"the file is not {source.encoding} text (at byte {e.start}); "
            "set 'encoding' on this source (for example latin-1 or cp1252)",
            path,
        ) from e
    except (OSError, ValueError) as e:
        if "invalid UTF8" in str(e) or "invalid utf-8" in str(e).lower():
            raise DataError(
                f"the file is not {source.encoding} text; set 'encoding' on this source "
                "(for example latin-1 or cp1252)",
                path,
            ) from e
        raise DataError(f"cannot read the file as {fmt}: {e}", path) from e


# Separators a delimited file may use instead of the configured one.
OTHER_SEPARATORS = {";": "';'", "\t": "'\\t'", "|": "'|'", ",": "','"}


def _check_header(names: list[str], columns: list[str], sep: str, path: str) -> None:
    """A delimited file's header: not empty, no column twice, split by the right separator.

    Raises:
      DataError: One error that says what to set, instead of one per column.
    """
    if not names or names == [""]:
        raise DataError("the file is empty: no header and no rows", path)
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise DataError(
                f"the header names column {name!r} twice (columns {seen[name]} and {position}); "
                "rename one",
                path,
                name,
            )
        seen[name] = position
    if len(names) == 1 and any(c not in names for c in columns):
        for other, shown in OTHER_SEPARATORS.items():
            if other != sep and other in names[0]:
                raise DataError(
                    f"the header is one column, {names[0]!r}, which holds {shown}: the file "
                    f"looks separated by {shown}, not {sep!r}; set sep: {shown} on this source",
                    path,
                )


def _cleaned(chunk, columns: list[str], na_values: tuple[str, ...]) -> pd.DataFrame:
    """Exactly `columns`, as trimmed text; "no value" tokens and missing columns empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(chunk, pa.RecordBatch):  # trimmed and matched in Arrow, not per cell in Python
        out = {}
        for column in columns:
            if column not in chunk.schema.names:
                out[column] = pa.array([""] * chunk.num_rows)
                continue
            trimmed = pc.utf8_trim_whitespace(chunk.column(column))
            if na_values:
                missing = pc.is_in(trimmed, value_set=pa.array(list(na_values), pa.string()))
                trimmed = pc.if_else(missing, "", trimmed)
            out[column] = trimmed
        return pa.table(out).to_pandas()
    frame = chunk.copy()
    frame.columns = [str(c) for c in frame.columns]
    for column in columns:
        if column not in frame.columns:
            frame[column] = ""  # reported; the other columns are still checked
            continue
        values = frame[column].map(lambda v: "" if v is None else str(v)).str.strip()
        frame[column] = values.where(~values.isin(na_values), "")
    return frame[columns].copy()


def _delimited_chunks(
    source: Source, path: str, fmt: str, columns: list[str], chunk_rows: int
) -> Iterator:
    """csv/tsv through pyarrow's streaming reader, every cell as text.

    Like the other readers: yields the file's column names, then the frames.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    sep = source.sep or ("\t" if fmt == "tsv" else ",")
    if not source.header and not source.columns:
        raise DataError("'header: false' needs 'columns' to name the columns", path)
    if len(sep) != 1:  # pyarrow reads one-character separators only
        frame = _read_delimited(source, path, fmt)
        yield list(frame.columns)
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start : start + chunk_rows].reset_index(drop=True)
        return
    with open_file(path) as f:
        names = list(source.columns) if source.columns else None
        if names is None:
            line = f.readline()
            line = line.decode(source.encoding) if isinstance(line, bytes) else line
            names = next(csv.reader([line], delimiter=sep), [])
            f.seek(0)
        yield names
        present = [c for c in columns if c in names]
        try:
            reader = pcsv.open_csv(
                f,
                read_options=pcsv.ReadOptions(
                    column_names=names,
                    skip_rows=1 if source.header else 0,
                    block_size=max(1 << 20, chunk_rows * 64),
                    encoding=source.encoding,
                ),
                parse_options=pcsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(
                    include_columns=present,
                    column_types={c: pa.string() for c in present},
                    null_values=[],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            yield from reader  # Arrow record batches, cleaned by `_cleaned`
        except pa.ArrowInvalid as e:
            # pyarrow does not say which row; find it (only on this error path).
            with open_file(path) as again:
                data = again.read()
            text = data.decode(source.encoding) if isinstance(data, bytes) else data
            _check_field_counts(text, sep, source.header, len(source.columns) or None, path)
            raise DataError(f"malformed file: {e}", path) from e


def _read_delimited(source: Source, path: str, fmt: str) -> pd.DataFrame:
    sep = source.sep or ("\t" if fmt == "tsv" else ",")
    names = list(source.columns) if source.columns else None
    with open_file(path) as f:
        data = f.read()
    text = data.decode(source.encoding) if isinstance(data, bytes) else data
    _check_field_counts(text, sep, source.header, len(names) if names else None, path)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=0 if source.header else None,
            names=names,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            engine="python",
        )
    except pd.errors.ParserError as e:
        raise DataError(f"malformed row: {e}", path) from e
    return frame


def _check_field_counts(text: str, sep: str, header: bool, expected: int | None, path: str) -> None:
    """Every data row must have as many fields as the header (or `columns`).

    pandas silently pads short rows, so the count is checked here, with the
    data row (1-based, header not counted) in the error.
    """
    if len(sep) != 1:
        return
    rows = (fields for fields in csv.reader(io.StringIO(text), delimiter=sep) if fields)
    if header:
        first = next(rows, None)
        if expected is None and first is not None:
            expected = len(first)
    for row, fields in enumerate(rows, start=1):
        if expected is None:
            expected = len(fields)
        if len(fields) != expected:
            raise DataError(
                f"malformed row: expected {expected} fields, found {len(fields)}", path, row=row
            )


def _parquet_chunks(path: str, columns: list[str], chunk_rows: int) -> Iterator:
    import pyarrow.parquet as pq

    with open_file(path) as f:
        parquet = pq.ParquetFile(f)
        yield parquet.schema_arrow.names
        present = [c for c in parquet.schema_arrow.names if c in columns]
        if not present:
            return
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=present):
            yield batch.to_pandas().apply(_column_to_text)


def _column_to_text(column: pd.Series) -> pd.Series:
    """Typed Parquet/JSON values as text; whole floats such as ids lose their '.0'."""
    present = column.dropna()
    whole = pd.api.types.is_float_dtype(column) and (present == present.round()).all()

    def text(value):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        return str(int(value)) if whole else str(value)

    return column.map(text)


def _jsonl_chunks(source: Source, path: str, chunk_rows: int) -> Iterator:
    frames = _jsonl_frames(source, path, chunk_rows)
    first = next(frames, pd.DataFrame())
    yield list(first.columns)  # the keys of the first chunk's records
    yield first
    yield from frames


def _jsonl_frames(source: Source, path: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    records = []
    with open_file(path) as f:
        for i, line in enumerate(f, start=1):
            text = line.decode(source.encoding).strip() if isinstance(line, bytes) else line
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(f"malformed JSON: {e.msg}", path, row=i) from e
            if not isinstance(record, dict):
                raise DataError(f"expected a JSON object, got {text[:60]!r}", path, row=i)
            records.append(record)
            if len(records) == chunk_rows:
                yield pd.DataFrame.from_records(records).apply(_column_to_text)
                records = []
    if records:
        yield pd.DataFrame.from_records(records).apply(_column_to_text)


def text_column(frame: pd.DataFrame, column: str, required: bool) -> pd.Series:
    """A column of a frame read by `read_chunks` (trimmed text); `required` rejects empty cells."""
    values = frame[column]
    if required:
        empty = values.eq("")
        if empty.any():
            _fail(frame, empty, column, "missing value")
    return values


def numeric_column(frame: pd.DataFrame, column: str, required: bool = False) -> pd.Series:
    """A column as float64; empty cells become NaN unless `required`."""
    raw = text_column(frame, column, required)
    values = pd.to_numeric(raw.where(raw.ne(""), None), errors="coerce")
    bad = raw.ne("") & values.isna()
    if bad.any():
        value = raw[bad].iloc[0]
        _fail(frame, bad, column, f"expected a number, got {value!r}")
    return values.astype("float64")  # bad cells (reported) are NaN


def weight_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """Interaction weights: numbers of at least 0 (finite); empty cells count 1."""
    values = numeric_column(frame, column)
    bad = values.notna() & ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        value = values[bad].iloc[0]
        _fail(frame, bad, column, f"a weight must be a finite number of at least 0, got {value}")
    return values.fillna(1.0).where(~bad, 1.0)


def mapped_column(
    frame: pd.DataFrame, column: str, mapping: dict[str, float], what: str
) -> pd.Series:
    """A text column mapped to numbers; a value the mapping lacks is an error naming it."""
    raw = text_column(frame, column, required=True)
    values = raw.map(mapping)
    unknown = values.isna()
    if unknown.any():
        value = raw[unknown].iloc[0]
        known = ", ".join(sorted(mapping))
        _fail(
            frame,
            unknown,
            column,
            f"{what} {value!r} has no weight (weights are given for: {known})",
        )
    return values.fillna(0.0).astype("float64")


# YYYY-MM-DD, optionally with a time, fractional seconds and a zone: the only text read
# without a `timestamp_format`, because it is the only form that cannot be misread.
_ISO_8601 = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)
# Unix times from 1970 up to this many seconds (the year 2286) are seconds; from
# 1e11 to 1e14 the same instants in milliseconds.
_MAX_SECONDS = 1e10
_MAX_MILLISECONDS = 1e13
_TIMESTAMP_FIX = (
    "use unix seconds, unix milliseconds or ISO 8601 (2023-11-24 or 2023-11-24T18:30:00Z), "
    "or set interactions.timestamp_format to a strptime format such as '%d/%m/%Y %H:%M'"
)


def timestamp_column(
    frame: pd.DataFrame, column: str, fmt: str | None = None, units: set[str] | None = None
) -> pd.Series:
    """A column of event times, as int64 unix seconds; nothing is guessed.

    Numbers are unix seconds, or unix milliseconds when every value has the
    magnitude of milliseconds (said in the log). Text is ISO 8601, or with
    `fmt` a strptime format. A mix of seconds and milliseconds, a negative
    time, text in another form (day-first and month-first dates are
    ambiguous) or text that does not match `fmt` is an error naming the
    column, the first bad row and the fix. `units` collects the unit the
    numbers were read in, so the parts of a log read apart can be compared.
    """
    raw = text_column(frame, column, required=True)
    if fmt:
        parsed = pd.to_datetime(raw, format=fmt, errors="coerce", utc=True)
        bad = parsed.isna()
        if bad.any():
            _fail(
                frame, bad, column, f"does not match timestamp_format {fmt!r}: {raw[bad].iloc[0]!r}"
            )
        return (parsed.astype("int64") // 1_000_000_000).where(~bad, 0).astype("int64")
    numeric = pd.to_numeric(raw, errors="coerce")
    textual = numeric.isna()
    seconds = numeric.copy()
    if textual.any():
        iso = raw[textual].str.match(_ISO_8601)
        parsed = pd.to_datetime(raw[textual].where(iso), errors="coerce", utc=True)
        seconds[textual] = parsed.astype("int64") // 1_000_000_000
        seconds[textual & parsed.reindex(raw.index).isna()] = np.nan
        bad = seconds.isna()
        if bad.any():
            _fail(
                frame,
                bad,
                column,
                f"expected unix seconds, unix milliseconds or an ISO 8601 time, got "
                f"{raw[bad].iloc[0]!r} (dates in other forms are never guessed: set "
                "interactions.timestamp_format to a strptime format such as '%d/%m/%Y %H:%M')",
            )
            return seconds.fillna(0).astype("int64")
    numbers = numeric[~textual]
    if (numbers < 0).any():
        _fail(frame, ~textual & (numeric < 0), column, "a time before 1970: " + _TIMESTAMP_FIX)
    elif len(numbers) and (numbers >= _MAX_SECONDS).any():
        in_seconds = ~textual & (numeric < _MAX_SECONDS)
        too_large = ~textual & (numeric >= _MAX_MILLISECONDS)
        if in_seconds.any():
            _fail(frame, in_seconds, column, "mixes unix seconds with unix milliseconds")
        elif too_large.any():
            _fail(
                frame,
                too_large,
                column,
                f"{raw[too_large].iloc[0]!r} is out of range; " + _TIMESTAMP_FIX,
            )
        else:
            logging.info("column '%s': read as unix milliseconds (by magnitude)", column)
            seconds[~textual] = numbers // 1000
            if units is not None:
                units.add("milliseconds")
    elif len(numbers) and units is not None:
        units.add("seconds")
    return seconds.fillna(0).astype("int64")


def _fail(frame: pd.DataFrame, mask: pd.Series, column: str, message: str) -> None:
    first = mask.to_numpy().nonzero()[0][0]
    bad_rows = int(mask.sum())
    more = f" ({bad_rows - 1} more rows like it)" if bad_rows > 1 else ""
    error = DataError(
        message + more,
        str(frame["_file"].iloc[first]),
        column=column,
        row=int(frame["_row"].iloc[first]),
    )
    error.rows = bad_rows  # how many rows: parts of a file read apart add up
    report(error)


def fill_missing_numeric(values: pd.Series, what: str) -> pd.Series:
    """Fills empty numeric cells with the column mean, and logs how many."""
    missing = int(values.isna().sum())
    if missing:
        mean = float(values.mean()) if missing < len(values) else 0.0
        logging.info("%s: %d empty values filled with the mean %.4g", what, missing, mean)
        values = values.fillna(mean)
    return values
