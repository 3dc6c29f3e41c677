"""The cost of training one model: seconds, examples per second, peak extra memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil


class PeakMemory:
    """Peak resident memory above the start, sampled every 10 ms in a thread."""

    def __init__(self):
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def mib(self) -> float:
        return round((self.peak - self.start) / 2**20, 1)


def timed(train: Callable[[], object], examples: int) -> tuple[object, dict]:
    """Runs `train`; returns its result and the seconds, examples/s and peak extra memory."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = train()
        seconds = time.perf_counter() - started
    cost = {
        "train_s": round(seconds, 2),
        "examples_per_s": round(examples / seconds) if seconds > 0 else None,
        "peak_mib": memory.mib,
    }
    return result, cost
