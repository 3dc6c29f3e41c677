"""Loaded model versions under a TF Serving base directory, refreshed while serving.

Follows TF Serving's default version policy: the newest complete version
(a numbered directory holding saved_model.pb) is served; a newer one is loaded
fully before it replaces the old one, so requests never see a half-loaded
model. Directories whose name is not a number (for example a push still being
written under a temporary name) are ignored.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf

from recsearch import bundle


@dataclass(frozen=True)
class Signature:
    """Input and output specs of one signature."""

    inputs: Mapping[str, tf.TensorSpec]
    outputs: Mapping[str, tf.TensorSpec]
    function: object


@dataclass(frozen=True)
class LoadedVersion:
    """A loaded SavedModel. `owner` keeps it alive: signatures only hold weak references."""

    version: int
    path: str
    signatures: Mapping[str, Signature]
    owner: object


class ModelNotFound(LookupError):
    """The model name or version is not served (HTTP 404)."""


def _signatures(loaded) -> dict[str, Signature]:
    signatures = {}
    for name, function in loaded.signatures.items():
        _, inputs = function.structured_input_signature
        signatures[name] = Signature(
            inputs=dict(inputs), outputs=dict(function.structured_outputs), function=function
        )
    return signatures


def load_version(path: str, version: int) -> LoadedVersion:
    """Loads a version; with a ScaNN companion (and scann installed), its top-K signatures.

    The exact bundle keeps answering `predict` and `serving_default`.
    """
    loaded = tf.saved_model.load(path)
    signatures = _signatures(loaded)
    owners = [loaded]
    companion = bundle.companion_path(path)
    if tf.io.gfile.exists(os.path.join(companion, bundle.SAVED_MODEL)) and bundle.load_scann():
        approximate = tf.saved_model.load(companion)
        owners.append(approximate)
        for name, signature in _signatures(approximate).items():
            if name not in ("predict", "serving_default"):
                signatures[name] = signature
    return LoadedVersion(version=version, path=path, signatures=signatures, owner=owners)


class ModelRegistry:
    """The versions of one model, polled on a background thread."""

    def __init__(self, name: str, base_dir: str, poll_seconds: float = 2.0):
        self.name = name
        self.base_dir = base_dir
        self.poll_seconds = poll_seconds
        self._current: LoadedVersion | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def refresh(self) -> bool:
        """Loads the newest version if it is not the one served. Returns True on a swap."""
        available = bundle.versions(self.base_dir)
        if not available:
            return False
        newest = available[-1]
        current = self._current
        if current is not None and current.version == newest:
            return False
        path = bundle.resolve(self.base_dir, newest)
        try:
            loaded = load_version(path, newest)
        except Exception as e:
            self.last_error = f"version {newest}: {e}"
            logging.error("could not load %s: %s", path, e)
            return False
        with self._lock:
            self._current = loaded
        self.last_error = None
        logging.info("serving %s version %d", self.name, newest)
        return True

    def get(self, version: int | None = None) -> LoadedVersion:
        """The served version, or a specific one if it is the one served.

        Raises:
          ModelNotFound: Nothing is loaded, or `version` is not served.
        """
        with self._lock:
            current = self._current
        if current is None:
            raise ModelNotFound(f"Servable not found for request: Latest({self.name})")
        if version is not None and version != current.version:
            raise ModelNotFound(f"Servable not found for request: Specific({self.name}, {version})")
        return current

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._poll, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            started = time.time()
            if self.refresh():
                logging.info("loaded a new version in %.1f s", time.time() - started)
