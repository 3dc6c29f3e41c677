"""The FnApiRunner's data-loss race, on Beam's own classes, and recsearch/beam_fixes.py's fix."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
import threading
import time

from apache_beam.runners.portability.fn_api_runner import fn_runner, worker_handlers
from apache_beam.runners.worker import data_plane

from recsearch import beam_fixes

REPO = os.path.join(os.path.dirname(__file__), "..")
CHUNK = b"x" * 100_000


def _send_while_flushing(stream, chunks: int) -> None:
    """Writes `chunks` chunks from this thread while the stream's flusher runs."""
    for _ in range(chunks):
        stream.write(CHUNK)
        time.sleep(0.001)
    stream.close()


def test_beams_time_based_stream_loses_writes_made_during_a_flush():
    """The bug: a write between the flusher's `get()` and `_clear()` is never sent."""
    sent: list[bytes] = []

    def slow_send(data: bytes) -> None:  # as the runner's proto copy is on a busy machine
        time.sleep(0.02)
        sent.append(data)

    stream = data_plane.TimeBasedBufferingClosableOutputStream(
        close_callback=sent.append, flush_callback=slow_send, time_flush_threshold_ms=5
    )
    _send_while_flushing(stream, 200)
    assert sum(map(len, sent)) < 200 * len(CHUNK)  # rows gone, and nothing raised


class _Channel:
    """A worker connection's data channel as the runner builds it, collecting what it sends."""

    def __init__(self):
        servicer = data_plane.BeamFnDataServicer(worker_handlers.DATA_BUFFER_TIME_LIMIT_MS)
        self.data_conn = servicer.get_conn_by_worker_id("worker_1")

    def sent(self) -> list[bytes]:
        out = []
        while not self.data_conn._to_send.empty():
            out.append(self.data_conn._to_send.get_nowait().data)
        return out


def test_the_fixed_runner_sends_a_bundles_whole_input_in_bounded_messages():
    beam_fixes.install()  # importing recsearch installs it; here it is already applied
    assert worker_handlers.DATA_BUFFER_TIME_LIMIT_MS == 0
    assert fn_runner.BundleManager._send_input_to_worker is beam_fixes._send_input_to_worker
    channel = _Channel()
    stream = channel.data_conn.output_stream("bundle_1", "read")
    assert type(stream) is data_plane.SizeBasedBufferingClosableOutputStream  # no flusher

    manager = fn_runner.BundleManager.__new__(fn_runner.BundleManager)
    manager._worker_handler = channel
    flushes = threading.Event()
    slow = channel.data_conn._to_send.put

    def put(item, *args, **kwargs):  # a slow send cannot drop anything written meanwhile
        flushes.set()
        time.sleep(0.01)
        slow(item, *args, **kwargs)

    channel.data_conn._to_send.put = put
    manager._send_input_to_worker("bundle_2", "read", [CHUNK] * 300)
    messages = channel.sent()
    assert b"".join(messages) == CHUNK * 300
    # Beam's 10 MB flush threshold, one chunk over at most: never one huge message.
    assert len(messages) >= 3 and max(map(len, messages)) <= (10 << 20) + len(CHUNK)
    assert flushes.is_set()


def test_the_pth_hook_installs_the_fix_in_a_fresh_process(tmp_path):
    """As in the image: TFX's own executors import Beam without importing recsearch first."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    with open(os.path.join(REPO, "kubeflow", "recsearch_beam_fixes.pth"), encoding="utf-8") as f:
        (site_dir / "recsearch_beam_fixes.pth").write_text(f.read())
    program = textwrap.dedent(
        f"""
        import site, sys
        site.addsitedir({str(site_dir)!r})
        assert "apache_beam" not in sys.modules  # the hook does not import Beam itself
        from apache_beam.runners.portability.fn_api_runner import fn_runner, worker_handlers
        from recsearch import beam_fixes
        assert worker_handlers.DATA_BUFFER_TIME_LIMIT_MS == 0
        assert fn_runner.BundleManager._send_input_to_worker is beam_fixes._send_input_to_worker
        print("fixed")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, *site.getsitepackages()])}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "fixed"
