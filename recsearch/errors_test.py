"""Collecting every problem: one raised as itself, several together, a column once."""

import pickle

import pytest

from recsearch import errors
from recsearch.errors import ConfigError, DataError, Problems, collecting, report


def test_report_raises_at_once_outside_collecting():
    with pytest.raises(ConfigError, match="bad"):
        report(ConfigError("bad"))


def test_one_problem_is_raised_as_itself_and_several_together():
    with pytest.raises(DataError, match="row 3"), collecting():
        report(DataError("expected a number", "a.csv", "r", 3))
    with pytest.raises(Problems) as error, collecting():
        report(ConfigError("c.yaml: 'model.epochs' must be positive"))
        report(DataError("expected a number", "a.csv", "r", 3))
        report(DataError("expected a number", "a.csv", "r", 9))  # the same column: once
        report(DataError("unknown column", "b.csv", "x"))
        raise DataError("no file matches this path", "c.csv")  # stops the check, joins the rest
    lines = str(error.value).splitlines()
    assert lines[0] == "4 problems:"
    assert [type(e) for e in error.value.errors] == [ConfigError, DataError, DataError, DataError]
    assert "a.csv, column 'r', row 3" in lines[2] and "row 9" not in str(error.value)
    assert lines[4] == "  - c.csv: no file matches this path"


def test_a_crash_after_reported_problems_reports_them():
    with pytest.raises(ConfigError, match="first"), collecting():
        report(ConfigError("first"))
        raise KeyError("follows from the first")
    with pytest.raises(KeyError), collecting():
        raise KeyError("nothing was reported: a real bug")


def test_find_cause_walks_the_chain_tfx_wraps_errors_in():
    try:
        try:
            raise errors.AnomaliesError("feature 'x'")
        except errors.AnomaliesError as inner:
            raise RuntimeError("executor failed") from inner
    except RuntimeError as outer:
        found = errors.find_cause(outer, errors.RecsearchError)
        assert isinstance(found, errors.AnomaliesError) and "feature 'x'" in str(found)
        assert errors.find_cause(outer, KeyError) is None


def test_errors_survive_pickling_with_their_parts():
    """They cross processes: a Beam worker's, or the Trainer's child in a large local run."""
    data = DataError("expected a number", "a.csv", "rating", 4)
    for error in (data, Problems([ConfigError("c.yaml: bad"), data]), ConfigError("bad")):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error)
    back = pickle.loads(pickle.dumps(data))
    assert (back.path, back.column, back.row) == ("a.csv", "rating", 4)
