"""Beam's Python SDK worker, for the local runner's `multi_processing` mode, dying with
its runner.

    python -m recsearch.beam_worker   (in place of -m apache_beam...sdk_worker_main)

`recsearch.beam_fixes` starts Beam's workers through this module, with the
runner's process id in RUNNER_PID_ENV: the worker arms the parent-death signal
(`recsearch.processes.die_with_parent`), then runs Beam's own worker main as it
would have run. Beam starts a worker as `sh -c "<command>"`; the command is
given as `exec ...`, so the worker is the runner's child, not a shell's.
"""

from __future__ import annotations

import os
import runpy

from recsearch.processes import die_with_parent

RUNNER_PID_ENV = "RECSEARCH_BEAM_RUNNER_PID"
BEAM_WORKER_MAIN = "apache_beam.runners.worker.sdk_worker_main"


def main() -> None:
    runner = os.environ.get(RUNNER_PID_ENV)
    if runner:
        die_with_parent(int(runner))
    runpy.run_module(BEAM_WORKER_MAIN, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
