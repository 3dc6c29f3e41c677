"""Terminal progress for local runs: one line per component with its elapsed time.

TFX's LocalDagRunner logs "Component X is running." and "... is finished."
through absl; a logging handler turns those into short lines on the terminal,
while the full log goes to a file.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from absl import logging as absl_logging

_RUNNING = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")
_LOGGERS = ("absl", "tensorflow", "apache_beam", "py.warnings", "root")


class ComponentProgress(logging.Handler):
    """Prints `[i/n] Component ... done in 3.2 s` lines as components run."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = sys.stderr,
        on_finished: Callable[[str], None] | None = None,
    ):
        super().__init__(level=logging.INFO)
        self._on_finished = on_finished
        self.total = total
        self.stream = stream
        self.done = 0
        self.timings: dict[str, float] = {}
        self.cached: set[str] = set()
        self._current: str | None = None
        self._started = 0.0
        # Peak resident memory of this process and its children (Beam's workers), in bytes,
        # per component; filled while a `MemorySampler` runs.
        self.peak_rss: dict[str, int] = {}

    @property
    def current(self) -> str | None:
        """The component running now."""
        return self._current

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return
        if match := _RUNNING.search(message):
            self._current, self._started = match.group(1), time.time()
            self._write(f"[{self.done + 1:>2}/{self.total}] {self._current} ...")
        elif _CACHED.search(message) and self._current:
            self.cached.add(self._current)
        elif match := _FINISHED.search(message):
            name = match.group(1)
            elapsed = time.time() - self._started
            self.timings[name] = elapsed
            self.done += 1
            note = " (cached)" if name in self.cached else ""
            self._write(f"[{self.done:>2}/{self.total}] {name} done in {elapsed:.1f} s{note}")
            if self._on_finished is not None:
                self._on_finished(name)

    def _write(self, line: str) -> None:
        if self.stream is not None:
            self.stream.write(line + "\n")
            self.stream.flush()


@contextlib.contextmanager
def captured_logs(path: str, progress: logging.Handler):
    """Routes INFO logs of TFX, TensorFlow and Beam to `path` during a run.

    The terminal only gets `progress` lines and errors; Python warnings go to
    the file too.
    """
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setLevel(logging.INFO)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    absl_logging.set_verbosity(absl_logging.INFO)
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    saved = [(lg, lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    for lg in loggers:
        for handler in list(lg.handlers):
            lg.removeHandler(handler)
        lg.addHandler(file_handler)
        if lg.name == "absl":
            lg.addHandler(progress)
        lg.setLevel(logging.INFO)
        lg.propagate = False
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for lg, level, propagate, handlers in saved:
            for handler in list(lg.handlers):
                lg.removeHandler(handler)
            for handler in handlers:
                lg.addHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
        file_handler.close()


def release_freed_memory(_component: str | None = None) -> None:
    """Collects garbage and hands the C heap's free pages back to the system.

    LocalDagRunner runs every executor in this process, and the heap keeps what
    a component freed (the Trainer's rows and tensors: several GiB at 10M
    interactions), so every later component ran with it resident. glibc's
    `malloc_trim` returns free pages anywhere in the heap; elsewhere only the
    garbage collection runs.
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def tree_rss(pid: int | None = None) -> int:
    """Resident memory of a process and all its descendants, in bytes (Linux /proc)."""
    root = pid or os.getpid()
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))  # fields[1]: the parent
        rss[int(entry)] = int(fields[21]) * page  # fields[21]: resident pages
    total, stack = 0, [root]
    while stack:
        pid_ = stack.pop()
        total += rss.get(pid_, 0)
        stack += children.get(pid_, [])
    return total


class MemorySampler:
    """Samples the process tree's resident memory into `progress.peak_rss` per component."""

    def __init__(self, progress: ComponentProgress, interval: float = 0.25):
        self._progress, self._interval = progress, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            name = self._progress.current
            if name is not None:
                peak = self._progress.peak_rss
                peak[name] = max(peak.get(name, 0), tree_rss())
