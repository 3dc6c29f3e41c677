"""Publishing model versions atomically, pruning old ones, and rolling back.

A model base directory holds numbered versions (`<base>/<version>/saved_model.pb`),
the layout TF Serving polls. A version is written under a hidden temporary name
and renamed into place, so a server never sees a half-written version.
Rolled-back versions are moved (not deleted) under `<base>/.rolled_back/`.
Each version carries `recsearch_release.json` (`RELEASE_RECORD`): which
judged model it was released from and that model's metrics, so the next run
can measure its candidate against what is served (components/served_model).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from typing import Any

import tensorflow as tf

from recsearch import bundle, storage
from recsearch.errors import RecsearchError

ROLLED_BACK = ".rolled_back"
RELEASE_RECORD = "recsearch_release.json"


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


def served_versions(base_dir: str) -> list[int]:
    """Versions holding a SavedModel, ascending, on any filesystem TensorFlow reads."""
    storage.prepare(base_dir)
    if _is_local(base_dir):
        return bundle.versions(base_dir)
    return [
        v
        for v in _remote_versions(base_dir)
        if tf.io.gfile.exists(os.path.join(base_dir, str(v), bundle.SAVED_MODEL))
    ]


def read_release(version_dir: str) -> dict[str, Any]:
    """The release record of a version ({} for a version pushed without one)."""
    storage.prepare(version_dir)
    path = os.path.join(version_dir, RELEASE_RECORD)
    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def link_tree(source: str, target: str) -> None:
    """`copy_tree`, but on one local disk each file is a hard link (no space, no time).

    For read-only copies (a baseline model); falls back to copying across
    disks and on object stores.
    """
    if not (_is_local(source) and _is_local(target)):
        copy_tree(source, target)
        return
    try:
        shutil.copytree(source, target, copy_function=os.link, dirs_exist_ok=True)
    except OSError:  # another disk, or links not allowed
        shutil.copytree(source, target, dirs_exist_ok=True)


def copy_tree(source: str, target: str, skip_graph: bool = False) -> None:
    """Copies a directory tree with TensorFlow's filesystems (local, gs://, s3://).

    With `skip_graph`, the top-level saved_model.pb is left out (the caller
    writes it last).
    """
    storage.prepare(source, target)
    source = source.rstrip("/")
    for directory, _, files in tf.io.gfile.walk(source):
        relative = directory.rstrip("/")[len(source) :].lstrip("/")
        out_dir = os.path.join(target, relative) if relative else target
        tf.io.gfile.makedirs(out_dir)
        for name in files:
            if skip_graph and not relative and name == bundle.SAVED_MODEL:
                continue
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(out_dir, name), True)


def publish(
    model_dir: str,
    base_dir: str,
    keep: int = 5,
    release: dict[str, Any] | None = None,
    files: dict[str, bytes] | None = None,
) -> tuple[int, str]:
    """Copies a SavedModel into `base_dir` as a new version, atomically; keeps the last `keep`.

    On a local filesystem the copy is written under a hidden name and renamed
    into place. On object stores (gs://, s3://), where rename is a copy,
    saved_model.pb is written last, which is what servers wait for.

    Args:
      model_dir: The SavedModel to publish.
      base_dir: The model base directory.
      keep: How many versions to keep.
      release: Written as the version's `RELEASE_RECORD`, inside the same
        atomic step.
      files: More files written into the version in that step, by name.

    Returns:
      (version, version directory).

    Raises:
      RecsearchError: `model_dir` holds no SavedModel, or `keep` < 1.
    """
    storage.prepare(model_dir, base_dir)
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
        _write_release(staging, release, files)
        os.rename(staging, target)
    else:
        _write_release(target, release, files)
        _copy_tree_graph_last(model_dir, target)
    prune(base_dir, keep)
    return version, target


def _write_release(
    version_dir: str, release: dict[str, Any] | None, files: dict[str, bytes] | None
) -> None:
    tf.io.gfile.makedirs(version_dir)
    if release is not None:
        with tf.io.gfile.GFile(os.path.join(version_dir, RELEASE_RECORD), "w") as f:
            json.dump(release, f, indent=2, sort_keys=True, default=float)
    for name, content in (files or {}).items():
        with tf.io.gfile.GFile(os.path.join(version_dir, name), "wb") as f:
            f.write(content)


def _copy_tree_graph_last(source: str, target: str) -> None:
    copy_tree(source, target, skip_graph=True)
    graph = os.path.join(source, bundle.SAVED_MODEL)
    tf.io.gfile.copy(graph, os.path.join(target, bundle.SAVED_MODEL), True)


def prune(base_dir: str, keep: int) -> list[int]:
    """Deletes all but the newest `keep` versions; returns the deleted ones."""
    existing = served_versions(base_dir)
    doomed = existing[:-keep] if len(existing) > keep else []
    for version in doomed:
        tf.io.gfile.rmtree(os.path.join(base_dir, str(version)))
    return doomed


def rollback(base_dir: str, to: int | None = None) -> int:
    """Makes an older version the served (newest) one by moving newer versions aside.

    On object stores, which have no rename, each newer version is copied
    aside and then deleted; its graph goes first, so a server stops seeing
    it before its files go.

    A version rolled back before can be served again (`to` names it): it is
    moved back from `<base>/.rolled_back/`, which undoes a rollback.

    Args:
      base_dir: The model base directory.
      to: The version to serve; the one before the newest when None.

    Returns:
      The version now served.

    Raises:
      RecsearchError: There is no older version, or `to` does not exist.
    """
    existing = served_versions(base_dir)
    aside = os.path.join(base_dir, ROLLED_BACK)
    if to is not None and to not in existing:
        restore = os.path.join(aside, str(to))
        if tf.io.gfile.exists(os.path.join(restore, bundle.SAVED_MODEL)):
            _move(restore, os.path.join(base_dir, str(to)))
            existing = served_versions(base_dir)
    if to is None:
        if len(existing) < 2:
            raise RecsearchError(f"{base_dir}: no older version to roll back to ({existing})")
        to = existing[-2]
    if to not in existing:
        rolled = _remote_versions(aside)
        also = f"; rolled back: {rolled}" if rolled else ""
        raise RecsearchError(f"{base_dir}: no version {to} (available: {existing}{also})")
    tf.io.gfile.makedirs(aside)
    for version in existing:
        if version > to:
            _move(os.path.join(base_dir, str(version)), os.path.join(aside, str(version)))
    return to


def _move(source: str, target: str) -> None:
    """Moves a version directory. On object stores (no rename there) the copy's graph is
    written last and the source's graph removed first, so a server polling either
    place never sees half a version.

    A directory already at `target` (moved there before) is replaced.
    """
    if tf.io.gfile.exists(target):
        tf.io.gfile.rmtree(target)
    if _is_local(source):
        os.rename(source, target)
        return
    _copy_tree_graph_last(source, target)
    tf.io.gfile.remove(os.path.join(source, bundle.SAVED_MODEL))
    tf.io.gfile.rmtree(source)
