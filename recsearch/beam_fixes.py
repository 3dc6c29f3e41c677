"""A fix for Apache Beam's local runner (the FnApiRunner) that otherwise loses data.

The FnApiRunner sends each bundle's input to its worker through a
`TimeBasedBufferingClosableOutputStream` (`worker_handlers.DATA_BUFFER_TIME_LIMIT_MS`,
1,000 ms). The stream's flusher thread wakes every second and does
`flush_callback(self.get()); self._clear()` while the runner's thread keeps
calling `write` without the stream's lock. Whatever the runner writes between
`get` and `_clear` is cleared without being sent: those elements vanish, with
no error. It takes an input of many chunks (hundreds of MB) and a busy machine
to widen the gap. A 10M-interaction RecsysExampleGen lost 3-20% of its rows
this way in the `multi_processing` mode (docs/scale.md), and any Beam step run
by the local runner (StatisticsGen, Transform, the Evaluator) is exposed the
same way. Beam 2.60.0 has this code, and so does the newest copy of Beam's
source read for this fix (apache/beam at 0080e2a), where the send queue is
also bounded, so the flush can block and widen the gap.

The fix takes the periodic flusher out: the runner's streams and the embedded
workers' are size-based only, and the runner sends a bundle's input a chunk at
a time from its own thread (flushing at Beam's 10 MB threshold, so no message
approaches gRPC's 2 GB limit). Nothing else changes; Dataflow, Flink and Spark
do not use this code.

A second fix: the local runner's `multi_processing` workers die with it. Beam starts
each as `sh -c "<python> -m ...sdk_worker_main"` (`local_job_service.SubprocessSdkWorker`);
when the runner was killed (SIGKILL, the OOM killer) the shell and its Python worker
lived on, reparented to init, retrying the dead runner's address. Here the command runs
as `exec <python> -m recsearch.beam_worker` (the worker is the runner's own child, not a
shell's), which sets the kernel's parent-death signal to SIGKILL
(`prctl(PR_SET_PDEATHSIG)`, Linux) and then runs Beam's worker main, so a runner's
death ends its workers; `tests/test_faults.py` checks it with real processes.

`install()` applies both when Beam's runner module is imported (or at once if it
is already), so importing recsearch is enough; `kubeflow/recsearch_beam_fixes.pth`
installs it in every Python process of the pipeline image, TFX's own executors
included.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

RUNNER_MODULE = "apache_beam.runners.portability.fn_api_runner.fn_runner"


def install() -> None:
    """Applies the fix once Beam's runner is imported (now, if it already is)."""
    if RUNNER_MODULE in sys.modules:
        apply(sys.modules[RUNNER_MODULE])
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


def apply(fn_runner) -> None:
    """Makes the FnApiRunner's data streams size-based, sent from the writing thread."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.DATA_BUFFER_TIME_LIMIT_MS = 0  # read when a runner or worker starts
    fn_runner.BundleManager._send_input_to_worker = _send_input_to_worker
    from apache_beam.runners.portability import local_job_service

    local_job_service.subprocess = _WorkersDieWithRunner()


class _WorkersDieWithRunner:
    """The `subprocess` module as Beam's local job service sees it: a worker command runs
    as `exec <python> -m recsearch.beam_worker` with the runner's id in its environment,
    so the worker is the runner's child and dies with it (`recsearch.beam_worker`)."""

    def __init__(self):
        import subprocess

        self._subprocess = subprocess

    def __getattr__(self, name):
        return getattr(self._subprocess, name)

    def Popen(self, args, **kwargs):  # subprocess's own name
        import os

        from recsearch import beam_worker

        if kwargs.get("shell") and isinstance(args, str) and beam_worker.BEAM_WORKER_MAIN in args:
            args = "exec " + args.replace(beam_worker.BEAM_WORKER_MAIN, beam_worker.__name__)
            env = dict(kwargs.get("env") or os.environ)
            env[beam_worker.RUNNER_PID_ENV] = str(os.getpid())
            kwargs["env"] = env
        return self._subprocess.Popen(args, **kwargs)


def _send_input_to_worker(self, process_bundle_id, read_transform_id, byte_streams) -> None:
    """Beam's `BundleManager._send_input_to_worker`, flushing by size as it writes."""
    data_out = self._worker_handler.data_conn.output_stream(process_bundle_id, read_transform_id)
    for byte_stream in byte_streams or []:
        data_out.write(byte_stream)
        data_out.maybe_flush()
    data_out.close()


class _AfterImport(importlib.abc.MetaPathFinder):
    """Applies the fix right after Beam's runner module has been executed."""

    def find_spec(self, name, path, target=None):
        if name != RUNNER_MODULE:
            return None
        sys.meta_path.remove(self)  # one import to watch; the real finders locate it
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_fix(module) -> None:
            exec_module(module)
            apply(module)

        spec.loader.exec_module = exec_then_fix
        return spec
