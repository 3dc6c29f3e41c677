"""Object stores through TensorFlow's filesystems: gs:// built in, s3:// from tensorflow-io.

Every artifact, model version and state file goes through `tf.io.gfile`, so a
pipeline root or serving directory may be a local path, `gs://` or `s3://`
(AWS, or MinIO, KFP's default artifact store, with S3_ENDPOINT set).

TensorFlow has no S3 filesystem of its own since 2.6; tensorflow-io provides
it once imported. Its release for the locked TensorFlow (0.37.1 for 2.16)
aborts the process at exit after any S3 call ("pure virtual method called",
exit status 134; tensorflow/io#2039, fixed upstream after the last release
for TF 2.16). A pipeline step that wrote its outputs would then be marked
failed. `enable_s3` therefore also guards the exit: once Python's own exit
work is done, the process ends with its real status before those C++
destructors run: 1 after an uncaught exception, the code given to
`sys.exit` (how absl's app.run, TFX's entrypoints and argparse end), else 0.
A bare `raise SystemExit(n)` is not seen and ends with 0.

Steps that never import recsearch (TFX's own executors) get the same through
the image: with RECSEARCH_OBJECT_STORE=s3 in a container's environment (the
compiled spec sets it when a root is on s3://), the `recsearch_object_store`
startup hook the Dockerfile installs calls `enable_s3` in every process.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading

S3 = "s3://"
ENV = "RECSEARCH_OBJECT_STORE"

_lock = threading.Lock()
_enabled = False
_status = {"code": 0}


def needs_s3(*paths: str | None) -> bool:
    return any(p and p.startswith(S3) for p in paths)


def prepare(*paths: str | None) -> None:
    """Makes every path's filesystem usable in this process (loads S3 for s3:// paths)."""
    if needs_s3(*paths):
        enable_s3()


def enable_s3() -> None:
    """Registers tensorflow-io's s3:// filesystem and guards the exit (see the module doc).

    Raises:
      RuntimeError: tensorflow-io is not installed.
    """
    global _enabled
    with _lock:
        if _enabled:
            return
        try:
            import tensorflow_io  # noqa: F401  (registers s3:// with tf.io.gfile)
        except ImportError as error:
            raise RuntimeError(
                "s3:// paths need tensorflow-io (in requirements/lock.txt); "
                f"it could not be imported: {error}"
            ) from error
        _guard_exit()
        _enabled = True


def _guard_exit() -> None:
    exit_ = sys.exit
    hook = sys.excepthook

    def remember_exit(code=0):
        _status["code"] = _exit_status(code)
        exit_(code)

    def remember_failure(kind, value, traceback):
        _status["code"] = 1
        hook(kind, value, traceback)

    sys.exit = remember_exit
    sys.excepthook = remember_failure
    # atexit runs handlers last-registered first: registered now, this one runs
    # after those registered later, and finishes what the skipped ones would have.
    atexit.register(_exit_now)


def _exit_status(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # sys.exit("message") prints it and exits 1


def _exit_now() -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(_status["code"])


def enable_from_environment() -> None:
    """The startup hook: enables S3 when RECSEARCH_OBJECT_STORE=s3."""
    if os.environ.get(ENV) == "s3":
        enable_s3()
