"""Checks of a model's constructor arguments; each error names the argument and its value."""

from __future__ import annotations

from collections.abc import Iterable


def positive(**values: float) -> None:
    """Raises ValueError for the first of `values` that is not above 0."""
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")


def non_negative(**values: float) -> None:
    """Raises ValueError for the first of `values` below 0."""
    for name, value in values.items():
        if not value >= 0:
            raise ValueError(f"{name} must be non-negative, got {value}")


def fraction(**values: float) -> None:
    """Raises ValueError for the first of `values` outside [0, 1) (a dropout rate, say)."""
    for name, value in values.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")


def one_of(choices: Iterable[str], **values: str) -> None:
    """Raises ValueError for the first of `values` that is not one of `choices`."""
    choices = tuple(choices)
    for name, value in values.items():
        if value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")
