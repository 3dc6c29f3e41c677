"""Publishing model versions atomically, pruning old ones, and rolling back.

A model base directory holds numbered versions (`<base>/<version>/saved_model.pb`),
the layout TF Serving polls. A version is written under a hidden temporary name
and renamed into place, so a server never sees a half-written version.
Rolled-back versions are moved (not deleted) under `<base>/.rolled_back/`.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid

import tensorflow as tf

from recsearch import bundle
from recsearch.errors import RecsearchError

ROLLED_BACK = ".rolled_back"


def _is_local(path: str) -> bool:
    return "://" not in path


def next_version(base_dir: str) -> int:
    """Unix seconds, or one more than the newest version if that is later."""
    existing = bundle.versions(base_dir) if _is_local(base_dir) else _remote_versions(base_dir)
    return max(int(time.time()), (existing[-1] + 1) if existing else 0)


def _remote_versions(base_dir: str) -> list[int]:
    if not tf.io.gfile.exists(base_dir):
        return []
    names = [n.rstrip("/") for n in tf.io.gfile.listdir(base_dir)]
    return sorted(int(n) for n in names if n.isdigit())


def publish(model_dir: str, base_dir: str, keep: int = 5) -> tuple[int, str]:
    """Copies a SavedModel into `base_dir` as a new version, atomically; keeps the last `keep`.

    On a local filesystem the copy is written under a hidden name and renamed
    into place. On object stores (gs://, s3://), where rename is a copy,
    saved_model.pb is written last, which is what servers wait for.

    Returns:
      (version, version directory).

    Raises:
      RecsearchError: `model_dir` holds no SavedModel, or `keep` < 1.
    """
    if keep < 1:
        raise RecsearchError(f"keep must be at least 1, got {keep}")
    if not tf.io.gfile.exists(os.path.join(model_dir, bundle.SAVED_MODEL)):
        raise RecsearchError(f"{model_dir}: no {bundle.SAVED_MODEL} to publish")
    tf.io.gfile.makedirs(base_dir)
    version = next_version(base_dir)
    target = os.path.join(base_dir, str(version))
    if _is_local(base_dir):
        staging = os.path.join(base_dir, f".incoming-{version}-{uuid.uuid4().hex[:8]}")
        shutil.copytree(model_dir, staging)
        os.rename(staging, target)
    else:
        _copy_tree_graph_last(model_dir, target)
    prune(base_dir, keep)
    return version, target


def _copy_tree_graph_last(source: str, target: str) -> None:
    graph = None
    for directory, _, files in tf.io.gfile.walk(source):
        relative = os.path.relpath(directory, source)
        out_dir = os.path.normpath(os.path.join(target, relative))
        tf.io.gfile.makedirs(out_dir)
        for name in files:
            if relative == "." and name == bundle.SAVED_MODEL:
                graph = os.path.join(directory, name)
                continue
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(out_dir, name), True)
    tf.io.gfile.copy(graph, os.path.join(target, bundle.SAVED_MODEL), True)


def prune(base_dir: str, keep: int) -> list[int]:
    """Deletes all but the newest `keep` versions; returns the deleted ones."""
    existing = bundle.versions(base_dir) if _is_local(base_dir) else _remote_versions(base_dir)
    doomed = existing[:-keep] if len(existing) > keep else []
    for version in doomed:
        tf.io.gfile.rmtree(os.path.join(base_dir, str(version)))
    return doomed


def rollback(base_dir: str, to: int | None = None) -> int:
    """Makes an older version the served (newest) one by moving newer versions aside.

    Args:
      base_dir: The model base directory.
      to: The version to serve; the one before the newest when None.

    Returns:
      The version now served.

    Raises:
      RecsearchError: There is no older version, or `to` does not exist.
    """
    existing = bundle.versions(base_dir)
    if to is None:
        if len(existing) < 2:
            raise RecsearchError(f"{base_dir}: no older version to roll back to ({existing})")
        to = existing[-2]
    if to not in existing:
        raise RecsearchError(f"{base_dir}: no version {to} (available: {existing})")
    aside = os.path.join(base_dir, ROLLED_BACK)
    os.makedirs(aside, exist_ok=True)
    for version in existing:
        if version > to:
            os.rename(os.path.join(base_dir, str(version)), os.path.join(aside, str(version)))
    return to
