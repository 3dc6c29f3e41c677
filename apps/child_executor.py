"""Running a TFX executor in a child process of the local run.

LocalDagRunner runs every executor in the runner's own process, and a
process keeps the memory it once used: at 10M interactions the Trainer's rows
and tensors left several GiB resident under every later component, and
`malloc_trim` gave back only part of them. A component run through
`ChildProcessExecutor` does its work in a spawned process and leaves nothing
behind when that process exits. The child costs one more import of
TensorFlow (about 7 s), so the local run uses it for the Trainer (and Tuner)
of a large log only (`apps/local.py`).

`run_dag` points the Trainer's and Tuner's executors at this class, and names
the real one in the executor spec's extra flags
(`--child_executor_class=<class path>`), whatever the log's size: the spec is
part of TFX's cache key, so a run that spawns and one that does not share
their cache. Whether a node spawns is the runner's choice at run time
(`spawning`); a node routed here but not chosen runs in this process. The
child gets the same context, inputs and outputs (artifacts as TFX's JSON);
what it sets on its output artifacts is copied back, what it returns is
returned, and what it raises is raised here.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import traceback
from collections.abc import Iterable

from tfx.dsl.components.base import base_executor
from tfx.orchestration.portable import python_executor_operator
from tfx.proto.orchestration import executable_spec_pb2, pipeline_pb2
from tfx.types import artifact_utils
from tfx.utils import import_utils

from recsearch.apps.progress import captured_logs
from recsearch.components.executor_types import Artifacts, Props
from recsearch.processes import die_with_parent

FLAG = "--child_executor_class="

# The node ids that spawn (`spawning`); None: every node routed here spawns.
_spawned: frozenset[str] | None = None


@contextlib.contextmanager
def spawning(node_ids: Iterable[str]):
    """While the block runs, only the named nodes spawn; the others run their executor here."""
    global _spawned
    previous, _spawned = _spawned, frozenset(node_ids)
    try:
        yield
    finally:
        _spawned = previous


def flag(class_path: str) -> str:
    """The extra flag that names the executor a child runs."""
    return FLAG + class_path


def run_in_child(ir: pipeline_pb2.Pipeline, node_ids: Iterable[str]) -> None:
    """Points the named nodes of a compiled pipeline at `ChildProcessExecutor`.

    Only Python-class executors are moved (a Beam executor's work is in
    Beam's workers already); node ids the pipeline lacks are skipped.
    """
    deployment = pipeline_pb2.IntermediateDeploymentConfig()
    if not ir.deployment_config.Unpack(deployment):
        raise ValueError("run_in_child: the pipeline's deployment config is not TFX's IR")
    for node_id in node_ids:
        spec = executable_spec_pb2.PythonClassExecutableSpec()
        packed = deployment.executor_specs.get(node_id)
        if packed is None or not packed.Unpack(spec):
            continue
        inner = spec.class_path
        spec.class_path = f"{ChildProcessExecutor.__module__}.{ChildProcessExecutor.__name__}"
        spec.extra_flags.append(flag(inner))
        packed.Pack(spec)
    ir.deployment_config.Pack(deployment)


class ChildProcessExecutor(base_executor.BaseExecutor):
    """Runs the executor its flag names in a spawned process (see the module docstring)."""

    def Do(self, input_dict: Artifacts, output_dict: Artifacts, exec_properties: Props):
        flags = self._context.extra_flags or []
        inner = next((f[len(FLAG) :] for f in flags if f.startswith(FLAG)), None)
        if inner is None:
            raise ValueError(f"ChildProcessExecutor needs the extra flag {FLAG}<class path>")
        node = self._context.pipeline_node
        if _spawned is not None and (node is None or node.node_info.id not in _spawned):
            executor = import_utils.import_class_by_path(inner)(context=self._context)
            return executor.Do(input_dict, output_dict, exec_properties)
        spawn = multiprocessing.get_context("spawn")
        receive, send = spawn.Pipe(duplex=False)
        child = spawn.Process(
            target=_run_child,
            args=(
                inner,
                self._context,
                artifact_utils.jsonify_artifact_dict(input_dict),
                artifact_utils.jsonify_artifact_dict(output_dict),
                exec_properties,
                _log_file(),
                send,
                os.getpid(),
            ),
            name=f"recsearch-{inner.rsplit('.', 1)[-1]}",
        )
        child.start()
        send.close()
        logging.info("ChildProcessExecutor: %s runs in process %d", inner, child.pid)
        try:
            message = receive.recv()
        except EOFError:  # the child died without a word: killed, or out of memory
            message = None
        except BaseException:  # stopped here (SIGTERM, Ctrl-C): the child must not outlive it
            child.kill()
            raise
        finally:
            child.join()
        if message is None:
            raise RuntimeError(f"{inner} died in its child process ({_exit(child.exitcode)})")
        status, *payload = message
        if status == "error":
            error, text = payload
            logging.error("%s failed in its child process:\n%s", inner, text)
            raise error
        outputs, result = payload
        for key, artifacts in artifact_utils.parse_artifact_dict(outputs).items():
            for mine, theirs in zip(output_dict.get(key, []), artifacts):
                mine.mlmd_artifact.CopyFrom(theirs.mlmd_artifact)
        return result


def _run_child(inner, context, inputs, outputs, exec_properties, log_file, send, parent) -> None:
    die_with_parent(parent)
    # The child's logs go to the runner's log file, in the same format.
    logs = captured_logs(log_file, logging.NullHandler()) if log_file else contextlib.nullcontext()
    with logs:
        try:
            output_dict = artifact_utils.parse_artifact_dict(outputs)
            executor = import_utils.import_class_by_path(inner)(context=context)
            input_dict = artifact_utils.parse_artifact_dict(inputs)
            python_executor_operator.hydrate_value_artifacts(input_dict)  # as TFX's does
            result = executor.Do(input_dict, output_dict, exec_properties)
            send.send(("ok", artifact_utils.jsonify_artifact_dict(output_dict), result))
        except BaseException as error:  # every failure goes back to the runner
            text = traceback.format_exc()
            try:
                pickle.loads(pickle.dumps(error))
            except Exception:  # it does not survive pickling
                error = RuntimeError(f"{type(error).__name__}: {error}")
            send.send(("error", error, text))
        finally:
            send.close()


def _log_file() -> str | None:
    """The file the runner's absl logger writes to (the run's log, in a local run)."""
    files = (h for h in logging.getLogger("absl").handlers if isinstance(h, logging.FileHandler))
    return next((h.baseFilename for h in files), None)


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = ", probably the kernel's out-of-memory killer" if -code == signal.SIGKILL else ""
        return f"signal {name}{hint}"
    return f"exit code {code}"
