"""Finding and loading a pushed serving bundle (TF Serving's `<base>/<version>/` layout)."""

from __future__ import annotations

import functools
import os

from recsearch.errors import RecsearchError

SAVED_MODEL = "saved_model.pb"
# Beside a pushed version: item id -> title, from the items table's first text column.
ITEM_TITLES = "item_titles.json"


def versions(base_dir: str) -> list[int]:
    """Version numbers under a model base directory that hold a SavedModel, ascending."""
    if not os.path.isdir(base_dir):
        return []
    found = []
    for name in os.listdir(base_dir):
        if name.isdigit() and os.path.isfile(os.path.join(base_dir, name, SAVED_MODEL)):
            found.append(int(name))
    return sorted(found)


def resolve(model_dir: str, version: int | None = None) -> str:
    """The SavedModel directory to load: `model_dir` itself, or a version under it.

    Args:
      model_dir: A SavedModel directory, or a base directory of versions.
      version: A specific version; the newest when None.

    Raises:
      RecsearchError: Nothing servable is there.
    """
    if version is None and os.path.isfile(os.path.join(model_dir, SAVED_MODEL)):
        return model_dir
    available = versions(model_dir)
    if not available:
        raise RecsearchError(f"{model_dir}: no SavedModel here and no numbered version below it")
    if version is None:
        return os.path.join(model_dir, str(available[-1]))
    if version not in available:
        raise RecsearchError(f"{model_dir}: no version {version} (available: {available})")
    return os.path.join(model_dir, str(version))


def load(model_dir: str, version: int | None = None, approximate: bool = True):
    """Loads the bundle; returns the loaded object with `.signatures`.

    With `approximate`, the ScaNN companion is loaded instead when the bundle
    has one and the scann package is installed (its signatures are a superset
    of the exact bundle's names).
    """
    import tensorflow as tf

    path = resolve(model_dir, version)
    companion = companion_path(path)
    if approximate and os.path.isfile(os.path.join(companion, SAVED_MODEL)) and load_scann():
        return tf.saved_model.load(companion)
    return tf.saved_model.load(path)


# The ScaNN companion SavedModel beside the exact one (recsearch.modules.ann builds it).
COMPANION_DIR = os.path.join("assets.extra", "scann")


def companion_path(version_dir: str) -> str:
    """Where a bundle keeps its ScaNN companion."""
    return os.path.join(version_dir, COMPANION_DIR)


def load_scann() -> bool:
    """Registers ScaNN's TensorFlow ops; False when the package is missing."""
    try:
        import scann  # noqa: F401
    except ImportError:
        return False
    return True


def vocabulary(version_dir: str, name: str) -> list[str]:
    """A Transform vocabulary shipped in the bundle's assets (for example "user_id")."""
    with open(os.path.join(version_dir, "assets", name), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def item_titles(version_dir: str) -> dict[str, str]:
    """A pushed version's item titles ({} when the items have no text or it was not pushed)."""
    import json

    path = os.path.join(version_dir, ITEM_TITLES)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def known_users(version_dir: str, users: list[str]) -> list[bool]:
    """Whether each user is in the bundle's user vocabulary (others get a fallback)."""
    known = _user_vocabulary(version_dir)
    return [known is None or user in known for user in users]


@functools.lru_cache(maxsize=8)
def _user_vocabulary(version_dir: str) -> frozenset[str] | None:
    """The user vocabulary of a version, read once: pushed versions never change."""
    if not os.path.isfile(os.path.join(version_dir, "assets", "user_id")):
        return None
    return frozenset(vocabulary(version_dir, "user_id"))
