"""Component progress lines, and memory handed back between components."""

import ctypes
import io
import logging

import pytest

from recsearch.apps import progress


def _log(handler: logging.Handler, message: str) -> None:
    handler.emit(logging.LogRecord("absl", logging.INFO, __file__, 1, message, None, None))


def test_progress_times_components_and_calls_back_when_each_finishes():
    finished = []
    stream = io.StringIO()
    handler = progress.ComponentProgress(2, stream=stream, on_finished=finished.append)
    _log(handler, "Component Transform is running.")
    assert finished == []
    _log(handler, "Component Transform is finished.")
    _log(handler, "Component Trainer is running.")
    _log(handler, "Component Trainer is finished.")
    assert finished == ["Transform", "Trainer"]
    assert set(handler.timings) == {"Transform", "Trainer"}
    assert "[ 2/2] Trainer done in" in stream.getvalue()


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(progress._LIBC is None, reason="needs glibc's malloc_trim")
def test_release_freed_memory_returns_a_freed_heap_to_the_system():
    # 16 KiB blocks come from the heap (under malloc's mmap threshold); the last one stays
    # allocated, so freeing the others leaves ~300 MiB of free pages below it that free()
    # alone does not return.
    libc = progress._LIBC
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    blocks = [libc.malloc(16384) for _ in range(20_000)]
    for block in blocks:
        libc.memset(block, 1, 16384)
    for block in blocks[:-1]:
        libc.free(block)
    held = _resident_bytes()
    progress.release_freed_memory()
    released = held - _resident_bytes()
    libc.free(blocks[-1])
    assert released > 200 * 2**20
