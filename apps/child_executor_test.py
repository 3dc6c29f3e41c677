"""ChildProcessExecutor: a real spawned process runs the executor its flag names."""

import os
import signal

import pytest
from tfx.dsl.compiler import compiler
from tfx.dsl.components.base import base_executor
from tfx.proto.orchestration import executable_spec_pb2, pipeline_pb2
from tfx.types import standard_artifacts

from recsearch.apps import child_executor, local
from recsearch.errors import DataError

HERE = "recsearch.apps.child_executor_test"


class WritesAndTags(base_executor.BaseExecutor):
    """Writes a file into its output and tags the artifact with its process id."""

    def Do(self, input_dict, output_dict, exec_properties):
        (model,) = output_dict["model"]
        os.makedirs(model.uri, exist_ok=True)
        with open(os.path.join(model.uri, "weights"), "w") as f:
            f.write(exec_properties["text"] + input_dict["examples"][0].uri)
        model.set_int_custom_property("pid", os.getpid())


class RaisesDataError(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        raise DataError("empty", "interactions.csv", "user_id", 7)


class Killed(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        os.kill(os.getpid(), signal.SIGKILL)


def run(inner: str, tmp_path, node_id: str = "Trainer", **exec_properties):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    context = base_executor.BaseExecutor.Context(
        extra_flags=["--unrelated", child_executor.flag(f"{HERE}.{inner}")],
        tmp_dir=str(tmp_path / "tmp"),
        unique_id="1",
        pipeline_node=pipeline_pb2.PipelineNode(node_info={"id": node_id}),
    )
    executor = child_executor.ChildProcessExecutor(context=context)
    executor.Do({"examples": [examples]}, {"model": [model]}, dict(exec_properties))
    return model


def test_child_writes_outputs_and_its_artifact_properties_come_back(tmp_path):
    model = run("WritesAndTags", tmp_path, text="hello ")
    with open(os.path.join(model.uri, "weights")) as f:
        assert f.read() == "hello " + str(tmp_path / "examples")
    pid = model.get_int_custom_property("pid")
    assert pid > 0 and pid != os.getpid()


def test_a_routed_node_not_chosen_to_spawn_runs_in_this_process(tmp_path):
    # The runner routes the Trainer here whatever the log's size (one cache key) and
    # chooses at run time: the Tuner spawns, the Trainer does not.
    with child_executor.spawning(["Tuner"]):
        here = run("WritesAndTags", tmp_path / "here", text="a")
        there = run("WritesAndTags", tmp_path / "there", node_id="Tuner", text="b")
    assert here.get_int_custom_property("pid") == os.getpid()
    assert there.get_int_custom_property("pid") != os.getpid()


def test_child_error_is_raised_in_the_runner_with_its_message(tmp_path):
    with pytest.raises(DataError, match="interactions.csv, column 'user_id', row 7: empty"):
        run("RaisesDataError", tmp_path)


def test_child_killed_is_an_error_naming_the_signal(tmp_path):
    with pytest.raises(RuntimeError, match="Killed died in its child process.*SIGKILL"):
        run("Killed", tmp_path)


def test_missing_flag_is_a_clear_error(tmp_path):
    executor = child_executor.ChildProcessExecutor(
        context=base_executor.BaseExecutor.Context(extra_flags=[])
    )
    with pytest.raises(ValueError, match="--child_executor_class="):
        executor.Do({}, {}, {})


def test_run_in_child_moves_only_the_named_python_executors(sample_config, tmp_path):
    paths = local.LocalPaths.under(str(tmp_path), sample_config.name)
    ir = compiler.Compiler().compile(local.local_pipeline(sample_config, paths))
    before = _specs(ir)
    child_executor.run_in_child(ir, ["Trainer", "Evaluator", "NoSuchNode"])
    after = _specs(ir)
    wrapper = "recsearch.apps.child_executor.ChildProcessExecutor"
    assert after["Trainer"].class_path == wrapper
    assert list(after["Trainer"].extra_flags) == [child_executor.flag(before["Trainer"].class_path)]
    # The Evaluator is a Beam executor: left where it is, as is every other node.
    assert {k: v for k, v in after.items() if k != "Trainer"} == {
        k: v for k, v in before.items() if k != "Trainer"
    }


def _specs(ir: pipeline_pb2.Pipeline) -> dict:
    deployment = pipeline_pb2.IntermediateDeploymentConfig()
    ir.deployment_config.Unpack(deployment)
    specs = {}
    for node_id, packed in deployment.executor_specs.items():
        python = executable_spec_pb2.PythonClassExecutableSpec()
        beam = executable_spec_pb2.BeamExecutableSpec()
        specs[node_id] = python if packed.Unpack(python) else (packed.Unpack(beam) and beam)
    return specs


class Sleeps(base_executor.BaseExecutor):
    """Writes its process id where the test looks, then trains (sleeps) for a minute."""

    def Do(self, input_dict, output_dict, exec_properties):
        import time

        with open(exec_properties["pid_file"], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)


_RUNNER = """
import pathlib
import sys
from recsearch.apps import child_executor_test, local
from recsearch.errors import RunStopped
try:
    with local.stop_on_signals():
        child_executor_test.run("Sleeps", pathlib.Path(sys.argv[1]), pid_file=sys.argv[2])
except RunStopped as stopped:
    print(f"stopped: {stopped}", flush=True)
    sys.exit(128 + stopped.signum)
"""


def _gone(pid: int, seconds: float) -> bool:
    """Whether process `pid` has ended (or is a zombie) within `seconds`."""
    import time

    import psutil

    ended = time.time() + seconds
    while time.time() < ended:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_the_child_dies_with_its_runner_whatever_signal_ended_it(tmp_path, stop):
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "child.pid"
    runner = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, str(tmp_path), str(pid_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waited = time.time() + 120
    while not pid_file.exists() or not pid_file.read_text():
        assert runner.poll() is None and time.time() < waited, runner.communicate()
        time.sleep(0.2)
    child = int(pid_file.read_text())
    runner.send_signal(stop)
    out, _ = runner.communicate(timeout=30)
    assert _gone(child, 10), f"the child {child} outlived its runner by 10 s"
    if stop == signal.SIGTERM:  # handled: a clear line, the shell's exit code
        assert runner.returncode == 128 + signal.SIGTERM
        assert "stopped: the run was stopped by SIGTERM" in out
    else:
        assert runner.returncode == -signal.SIGKILL
