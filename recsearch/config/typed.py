"""Typed dataclasses from plain data (YAML, JSON): every key and type checked, named."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from recsearch.errors import ConfigError, report


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def build(cls: type, raw: Any, origin: str, where: str) -> Any:
    """The dataclass `cls` from a mapping; every bad key is reported, not only the first.

    Returns None when a required key is missing or malformed (reported).
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: '{where}' must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    extra = getattr(cls, "__extra_keys__", None)
    if extra:
        # Keys the class does not declare are gathered into its `extra` mapping (the
        # model families' settings, checked by the registry, recsearch/config/checks.py).
        gathered = {k: plain(v) for k, v in raw.items() if k not in fields}
        if isinstance(raw.get(extra), Mapping):
            gathered = {**raw[extra], **gathered}
        raw = {**{k: v for k, v in raw.items() if k in fields}, extra: gathered}
    known = ", ".join(sorted(f for f in fields if f != "base_dir"))
    for name in sorted(set(raw) - set(fields)):
        report(ConfigError(f"{origin}: unknown key '{join(where, name)}' (known keys: {known})"))
    kwargs = {}
    complete = True
    for name, field in fields.items():
        key = join(where, name)
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if name in raw:
            try:
                kwargs[name] = coerce(hints[name], raw[name], origin, key)
            except ConfigError as e:
                report(e)
                complete = complete and not required
        elif required:
            report(ConfigError(f"{origin}: missing required key '{key}'"))
            complete = False
    return cls(**kwargs) if complete else None


def coerce(hint: Any, value: Any, origin: str, key: str) -> Any:
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return coerce(inner, value, origin, key)
    if origin_type is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{origin}: '{key}' must be one of {choices}, got {value!r}")
        return value
    if origin_type is tuple:
        if isinstance(value, str) and args[0] is str:
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{origin}: '{key}' must be a list, got {value!r}")
        return tuple(coerce(args[0], v, origin, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return build(hint, value, origin, key)
    if origin_type is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{origin}: '{key}' must be a mapping, got {value!r}")
        return {str(k): coerce(args[1], v, origin, f"{key}.{k}") for k, v in value.items()}
    if hint is Any:
        return tuple(value) if isinstance(value, list) else value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: '{key}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: '{key}' must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{origin}: '{key}' must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{origin}: '{key}' must be a non-empty string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint!r} for '{key}'")


# Model settings a search may not change: they name things rather than tune them.


def join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
