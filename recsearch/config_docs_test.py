"""docs/configuration.md documents every config key, and nothing that is not one.

Keys are read from the tables of the document: the first cell of a row, in
backquotes, under a heading that names its section in backquotes (`## \\`split\\``,
`### \\`kubeflow.trainer\\` and ...`). "Top level" holds the top-level keys;
"Reading a table" the keys every source shares.
"""

import dataclasses
import os
import re
import typing

from recsearch import config as config_lib
from recsearch import model_registry

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "configuration.md")
SOURCES = ("interactions", "items", "users")
NOT_KEYS = {"base_dir"}  # set from the config file's location, not by the user
# `model.settings` is no key: the families' settings are written flat under `model:`.
GATHERED = {"settings"}


def config_keys(cls: type = config_lib.PipelineConfig, prefix: str = "") -> set[str]:
    """Every key of the config, dotted ("model.epochs", "kubeflow.trainer.cpu")."""
    keys = set()
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name in NOT_KEYS or field.name in GATHERED:
            continue
        path = f"{prefix}{field.name}"
        keys.add(path)
        inner = [a for a in typing.get_args(hints[field.name]) if a is not type(None)]
        target = hints[field.name] if not inner else inner[0]
        if dataclasses.is_dataclass(target):
            keys |= config_keys(target, f"{path}.")
    return keys


def documented_keys(text: str) -> set[str]:
    keys, sections = set(), []
    for line in text.splitlines():
        if line.startswith("#"):
            if line.startswith("## Top level"):
                sections = [""]
            elif line.startswith("## Reading a table"):
                sections = list(SOURCES)
            else:
                sections = re.findall(r"`([a-z_.]+)`", line)
            continue
        row = re.match(r"^\| (`[a-z0-9_]+`(?:, `[a-z0-9_]+`)*) \|", line)
        if row and sections:
            for key in re.findall(r"`([a-z0-9_]+)`", row.group(1)):
                keys |= {f"{s}.{key}" if s else key for s in sections}
    return keys


def test_every_config_key_is_documented_and_every_documented_key_exists():
    with open(DOC, encoding="utf-8") as f:
        documented = documented_keys(f.read())
    # Every registered family's settings are keys of `model:` (the registry knows them).
    expected = config_keys() | {f"model.{key}" for key in model_registry.every_setting()}
    assert sorted(expected - documented) == [], "config keys missing from docs/configuration.md"
    assert sorted(documented - expected) == [], "docs/configuration.md documents unknown keys"
