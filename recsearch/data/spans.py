"""Dated data spans: `{SPAN}` in an interactions path, as TFX's FileBasedExampleGen reads it."""

from __future__ import annotations

import re

from recsearch.data import sources
from recsearch.errors import DataError

_SPAN = re.compile(r"\{SPAN(?::(\d+))?\}")


def has_spans(path: str) -> bool:
    return bool(_SPAN.search(path))


def fill(path: str, span: int) -> str:
    """The path of one span ({SPAN:4} pads to four digits)."""
    return _SPAN.sub(lambda m: str(span).zfill(int(m.group(1) or 0)), path)


def any_span(path: str) -> str:
    """The glob of every span's files."""
    return _SPAN.sub("*", path)


def available(path: str) -> list[int]:
    """Span numbers with at least one matching file, ascending."""
    pattern = _SPAN.sub("*", path)
    regex = re.compile(
        "^"
        + _SPAN.sub(
            r"(\\d+)",
            re.escape(path).replace(r"\{", "{").replace(r"\}", "}").replace(r"\*", "[^/]*"),
        )
        + "$"
    )
    spans = set()
    for file in sources.list_files(pattern):
        match = regex.match(file)
        if match:
            spans.add(int(match.group(1)))
    return sorted(spans)


def select(path: str, span: int | None, window: int = 1) -> tuple[int, list[str]]:
    """The span to read (the newest when None) and the patterns of its window.

    Raises:
      DataError: No span exists, or the requested one does not.
    """
    spans = available(path)
    if not spans:
        raise DataError("no span matches this path", path)
    if span is None:
        span = spans[-1]
    elif span not in spans:
        raise DataError(f"span {span} does not exist (spans found: {spans})", path)
    chosen = [s for s in spans if span - window < s <= span]
    return span, [fill(path, s) for s in chosen]
