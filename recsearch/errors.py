"""Errors that stop a run before anything is trained, with a message a user can act on."""

from __future__ import annotations


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
        self.path = path
        self.column = column
        self.row = row


class AnomaliesError(RecsearchError):
    """The data does not match the schema; the run stops before training."""
