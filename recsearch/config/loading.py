"""Reading a config: YAML to typed dataclasses, every key and type checked, and back."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

import yaml

from recsearch.config import typed
from recsearch.config.checks import check_model_settings, check_semantics
from recsearch.config.pipeline_config import PipelineConfig
from recsearch.errors import ConfigError, RecsearchError, collecting, report


def load_config(path: str) -> PipelineConfig:
    """Reads and checks a YAML config file.

    Raises:
      ConfigError: The file is missing, is not YAML, or has an unknown key, a
        missing key or a value of the wrong type. The message names the key.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    with open(path, encoding="utf-8") as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
    base_dir = os.path.dirname(os.path.abspath(path))
    return config_from_dict(raw, base_dir=base_dir, origin=path)


def config_from_dict(raw: Any, base_dir: str = ".", origin: str = "config") -> PipelineConfig:
    """Builds a PipelineConfig from plain data (as read from YAML).

    Raises:
      ConfigError: On an unknown key, a missing key or a wrong type.
      Problems: On several of those; each is listed with its key.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {raw!r}")
    config = None
    try:
        with collecting():
            if "base_dir" in raw:
                report(ConfigError(f"{origin}: 'base_dir' is set from the config file's location"))
                raw = {k: v for k, v in raw.items() if k != "base_dir"}
            config = typed.build(PipelineConfig, {**raw, "base_dir": base_dir}, origin, "")
            if config is not None:
                config = _resolve_auto(config)
                check_semantics(config, origin)
                check_model_settings(config, raw.get("model"), origin)
    except RecsearchError as error:
        # Whatever could be built, so the data can still be checked against it.
        error.partial_config = config
        raise
    return config


def _resolve_auto(config: PipelineConfig) -> PipelineConfig:
    """Settings left to "auto" that depend only on the config, made concrete."""
    if config.split.method != "auto":
        return config
    method = "temporal" if config.interactions and config.interactions.timestamp else "random"
    return dataclasses.replace(config, split=dataclasses.replace(config.split, method=method))


def to_dict(config: Any) -> dict[str, Any]:
    """Plain, JSON-serialisable form of any config dataclass."""
    return typed.plain(dataclasses.asdict(config))


def to_json(config: PipelineConfig) -> str:
    """The config as JSON, base_dir included (for component parameters)."""
    return json.dumps(to_dict(config), sort_keys=True)


def from_json(text: str) -> PipelineConfig:
    """Inverse of `to_json`."""
    raw = json.loads(text)
    return typed.build(PipelineConfig, raw, "config", "")


def update_config_file(directory: str, overrides: dict) -> str:
    """Rewrites `directory`/config.yaml with top-level sections updated; returns its path."""
    path = os.path.join(directory, "config.yaml")
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(raw, f, sort_keys=False)
    return path
