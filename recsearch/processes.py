"""Processes that die with their parent: the Trainer's child and Beam's local workers.

A local run starts processes of its own: the Trainer (and Tuner) of a large log in
a spawned child (`apps/child_executor.py`) and, in Beam's `multi_processing` mode,
an SDK worker per core (`recsearch.beam_worker`). When the runner is killed
(SIGKILL, the out-of-memory killer) nothing of it runs to stop them: they were
reparented to init and trained or retried on. Each of them calls
`die_with_parent` first.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

# linux/prctl.h: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ends this process when `parent` dies, however it died (SIGKILL included).

    On Linux the kernel sends SIGKILL at the parent's death (PR_SET_PDEATHSIG);
    elsewhere a thread watches the parent id. A parent already gone ends this
    process at once.
    """
    armed = False
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)
    if armed:
        return

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
