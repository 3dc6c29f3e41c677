"""Reading tables: every format, and errors that name the file, column and row."""

import json

import pandas as pd
import pytest

from recsearch.config import InteractionsSource, Source
from recsearch.data import sources
from recsearch.errors import DataError


def _csv(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_values_stay_text(tmp_path):
    path = _csv(tmp_path, "id,n\n001,2\n002,\n")
    frame = sources.read_source(Source(path=path), path, ["id", "n"])
    assert list(frame["id"]) == ["001", "002"]
    assert list(frame["n"]) == ["2", ""]
    assert list(frame["_row"]) == [1, 2]


def test_tsv_without_header_and_glob(tmp_path):
    (tmp_path / "a.tsv").write_text("u1\ti1\n")
    (tmp_path / "b.tsv").write_text("u2\ti2\n")
    source = Source(path="*.tsv", header=False, columns=("u", "i"))
    frame = sources.read_source(source, str(tmp_path / "*.tsv"), ["u", "i"])
    assert list(frame["u"]) == ["u1", "u2"]


def test_parquet_and_jsonl(tmp_path):
    parquet = str(tmp_path / "t.parquet")
    pd.DataFrame({"id": [1, 2], "x": [0.5, None]}).to_parquet(parquet)
    frame = sources.read_source(Source(path=parquet), parquet, ["id", "x"])
    assert list(frame["id"]) == ["1", "2"]
    assert list(frame["x"]) == ["0.5", ""]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(json.dumps({"id": "a", "x": 1}) + "\n\n" + json.dumps({"id": "b"}) + "\n")
    frame = sources.read_source(Source(path=str(jsonl)), str(jsonl), ["id"])
    assert list(frame["id"]) == ["a", "b"]


def test_missing_file_unknown_column_and_unknown_extension(tmp_path):
    with pytest.raises(DataError, match="no file matches"):
        sources.read_source(Source(path="x.csv"), str(tmp_path / "x.csv"), ["a"])
    path = _csv(tmp_path, "a,b\n1,2\n")
    with pytest.raises(
        DataError, match=r"t.csv, column 'c': unknown column \(columns in the file: a, b\)"
    ):
        sources.read_source(Source(path=path), path, ["a", "c"])
    odd = _csv(tmp_path, "a\n1\n", name="t.data")
    with pytest.raises(DataError, match="cannot infer the format"):
        sources.read_source(Source(path=odd), odd, ["a"])


def test_malformed_rows_name_the_row(tmp_path):
    short = _csv(tmp_path, "a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match="row 2: malformed row"):
        sources.read_source(Source(path=short), short, ["a"])
    long = _csv(tmp_path, "a,b\n1,2\n3,4,5\n", name="long.csv")
    with pytest.raises(
        DataError, match="long.csv, row 2: malformed row: expected 2 fields, found 3"
    ):
        sources.read_source(Source(path=long), long, ["a"])
    bad_json = tmp_path / "t.jsonl"
    bad_json.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DataError, match="row 2: malformed JSON"):
        sources.read_source(Source(path=str(bad_json)), str(bad_json), ["a"])


def test_typed_columns_report_the_first_bad_row(tmp_path):
    path = _csv(tmp_path, "r,t\n4,1700000000\nfive,1700000001\nsix,x\n")
    frame = sources.read_source(Source(path=path), path, ["r", "t"])
    with pytest.raises(
        DataError, match=r"column 'r', row 2: expected a number, got 'five' \(1 more"
    ):
        sources.numeric_column(frame, "r")
    with pytest.raises(DataError, match="column 't', row 3: expected unix seconds"):
        sources.timestamp_column(frame, "t")


def test_iso_timestamps_and_required_text(tmp_path):
    path = _csv(tmp_path, "t,u\n2026-01-01T00:00:10Z,a\n2026-01-01T00:00:20Z,\n")
    frame = sources.read_source(Source(path=path), path, ["t", "u"])
    assert list(sources.timestamp_column(frame, "t")) == [1767225610, 1767225620]
    with pytest.raises(DataError, match="column 'u', row 2: missing value"):
        sources.text_column(frame, "u", required=True)


def test_interactions_source_defaults():
    source = InteractionsSource(path="x.csv")
    assert (source.user, source.item, source.rating) == ("user_id", "item_id", None)


def _times(tmp_path, cells: list[str], fmt: str | None = None):
    path = _csv(tmp_path, "t\n" + "\n".join(cells) + "\n")
    frame = sources.read_source(Source(path=path), path, ["t"])
    return list(sources.timestamp_column(frame, "t", fmt))


def test_times_are_never_guessed(tmp_path):
    # Seconds, and the same instants in milliseconds, told apart by magnitude.
    assert _times(tmp_path, ["1700004762", "1700004800"]) == [1700004762, 1700004800]
    assert _times(tmp_path, ["1700004762000", "1700004800999"]) == [1700004762, 1700004800]
    # ISO 8601 with a zone, a space or a date alone.
    assert _times(tmp_path, ["2023-11-24T18:30:00+01:00", "2023-11-24 17:30", "2023-11-24"]) == [
        1700847000,
        1700847000,
        1700784000,
    ]
    # Day-first dates are read only with a format, and then all of them the same way.
    assert _times(tmp_path, ["01/11/2023 00:00", "24/11/2023 00:00"], "%d/%m/%Y %H:%M") == [
        1698796800,
        1700784000,
    ]


@pytest.mark.parametrize(
    "cells, fmt, message",
    [
        (["01/11/2023 00:00", "24/11/2023 00:00"], None, "row 1: expected unix seconds, unix mi"),
        (["1700004762", "1700004800000"], None, "row 1: mixes unix seconds with unix milli"),
        (["-5"], None, "row 1: a time before 1970"),
        (["17000047620000000"], None, "row 1: '17000047620000000' is out of range"),
        (["2023-11-24", "24/11/2023"], "%Y-%m-%d", "row 2: does not match timestamp_format"),
    ],
)
def test_ambiguous_or_out_of_range_times_name_the_row_and_the_fix(tmp_path, cells, fmt, message):
    with pytest.raises(DataError, match=message) as error:
        _times(tmp_path, cells, fmt)
    assert "column 't'" in str(error.value)
    if fmt is None:
        assert "timestamp_format" in str(error.value) or "mixes" in str(error.value)


def test_missing_value_tokens_are_empty_cells(tmp_path):
    path = _csv(tmp_path, "r,u\nN/A,a\n4, null \nNA,b\n")
    frame = sources.read_source(Source(path=path), path, ["r", "u"])
    ratings = sources.numeric_column(frame, "r")
    assert ratings.isna().tolist() == [True, False, True]
    assert list(sources.text_column(frame, "u", required=False)) == ["a", "", "b"]
    custom = Source(path=path, na_values=())
    frame = sources.read_source(custom, path, ["r", "u"])
    with pytest.raises(DataError, match="expected a number, got 'N/A'"):
        sources.numeric_column(frame, "r")


@pytest.mark.parametrize(
    "content, sep, message",
    [
        (b"", None, r"t.csv: the file is empty: no header and no rows"),
        (
            b"userId,movieId,rating,rating\n1,2,3,4\n",
            None,
            r"t.csv, column 'rating': the header names column 'rating' twice "
            r"\(columns 3 and 4\); rename one",
        ),
        (
            b"userId;movieId;rating\n1;2;3\n",
            None,
            r"t.csv: the header is one column, 'userId;movieId;rating', which holds ';': "
            r"the file looks separated by ';', not ','; set sep: ';' on this source",
        ),
        (
            b"userId,movieId,rating\n1,caf\xe9,3\n",
            None,
            r"t.csv: the file is not utf-8 text \(at byte 27\); set 'encoding' on this source",
        ),
        (
            b"userId\tmovieId\trating\n1\t2\t3\n",
            "|",
            r"which holds '\\t': the file looks separated by '\\t', not '\|'; set sep: '\\t'",
        ),
    ],
    ids=["empty", "duplicate header", "semicolons", "latin-1", "tabs"],
)
def test_a_bad_file_is_one_error_that_says_what_to_set(tmp_path, content, sep, message):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    source = Source(path=str(path), sep=sep)
    with pytest.raises(DataError, match=message):
        sources.read_source(source, str(path), ["userId", "movieId", "rating"])


def test_latin_1_is_read_once_encoding_is_set(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"userId,movieId\n1,caf\xe9\n")
    frame = sources.read_source(Source(path=str(path), encoding="latin-1"), str(path), ["movieId"])
    assert list(frame["movieId"]) == ["café"]
