"""Errors that stop a run before anything is trained, with a message a user can act on.

Checks of a config and its data report every problem they find, not only the
first: inside `collecting()`, `report(error)` records the error and the check
goes on; the block then raises one `Problems` error that lists them all.
Outside such a block `report` raises at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import TypeVar

E = TypeVar("E", bound=BaseException)


class RecsearchError(Exception):
    """Base class of recsearch's user-facing errors."""


class ConfigError(RecsearchError):
    """The YAML config is missing, malformed, or asks for something impossible."""


class DataError(RecsearchError):
    """A data source is missing or has a bad column or row.

    Attributes:
      path: The file at fault.
      column: The column at fault, if any.
      row: The 1-based data row at fault (not counting a header), if any.
    """

    def __init__(self, message: str, path: str, column: str | None = None, row: int | None = None):
        where = [path]
        if column is not None:
            where.append(f"column '{column}'")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{', '.join(where)}: {message}")
        self.message = message
        self.path = path
        self.column = column
        self.row = row

    def __reduce__(self):
        # Rebuilt from its parts, so it crosses processes (a Beam worker, the Trainer's child).
        return type(self), (self.message, self.path, self.column, self.row)


class RunStopped(RecsearchError):
    """A signal (SIGTERM, SIGINT) stopped a local run; the step it was in is marked failed.

    Attributes:
      signum: The signal's number (the command exits with 128 + it).
    """

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(
            f"the run was stopped by {name}: the step it was in is marked failed and nothing "
            "of it is kept; run the same command again to resume after the last completed step"
        )


class AnomaliesError(RecsearchError):
    """The data does not match the schema; the run stops before training."""


class Problems(RecsearchError):
    """Several config or data problems, each a ConfigError or DataError of its own."""

    def __init__(self, errors: list[RecsearchError]):
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} problems:\n{lines}")

    def __reduce__(self):
        return type(self), (self.errors,)


_COLLECTOR: contextvars.ContextVar[list[RecsearchError] | None] = contextvars.ContextVar(
    "recsearch_problems", default=None
)


def report(error: RecsearchError) -> None:
    """Records `error` inside `collecting()` (once per file and column); raises it elsewhere."""
    found = _COLLECTOR.get()
    if found is None:
        raise error
    where = _place(error)
    if where is not None and any(_place(e) == where for e in found):
        return  # a column already at fault: its later symptoms add nothing
    found.append(error)


def _place(error: RecsearchError) -> tuple[str, str] | None:
    if isinstance(error, DataError) and error.column is not None:
        return error.path, error.column
    return None


@contextlib.contextmanager
def collecting() -> Iterator[list[RecsearchError]]:
    """Collects the problems reported inside; raises them together when the block ends.

    A problem raised (not reported) inside the block joins the ones reported
    before it. One problem is raised as itself, several as `Problems`.
    """
    found: list[RecsearchError] = []
    token = _COLLECTOR.set(found)
    try:
        yield found
    except Problems as e:
        found.extend(e.errors)
    except RecsearchError as e:
        found.append(e)
    except Exception:
        if not found:
            raise
        # A later step tripped over a problem already reported: report those.
        logging.debug("after %d reported problems", len(found), exc_info=True)
    finally:
        _COLLECTOR.reset(token)
    if len(found) == 1:
        raise found[0]
    if found:
        raise Problems(found)


def find_cause(error: BaseException | None, kind: type[E]) -> E | None:
    """The first error of `kind` along `error`'s chain of causes (TFX wraps executor errors)."""
    while error is not None:
        if isinstance(error, kind):
            return error
        error = error.__cause__ or error.__context__
    return None


def flatten(error: BaseException) -> list[BaseException]:
    """The single problems of an error (itself, unless it is a `Problems`)."""
    return list(error.errors) if isinstance(error, Problems) else [error]
