"""Pipeline fault behaviour: anomalies stop the run, killed runs resume, the gate holds.

Each test runs the real pipeline (or its first half) on the tiny sample shop.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import ml_metadata as mlmd
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from recsearch import bundle, testing
from recsearch.apps import local
from recsearch.apps.results import connection_config
from recsearch.config import load_config
from recsearch.errors import AnomaliesError, find_cause

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def curated_schema(sample_config, tmp_path_factory) -> schema_pb2.Schema:
    """The schema SchemaGen infers from the sample shop, as a curated schema would start."""
    root = str(tmp_path_factory.mktemp("schema"))
    testing.write_raw_examples(sample_config, root)
    stats = tfdv.generate_statistics_from_tfrecord(os.path.join(root, "Split-train", "*"))
    return tfdv.infer_schema(stats, infer_feature_shape=True)


def _shop(sample_dir, tmp_path, schema, overrides=None):
    shop = tmp_path / "shop"
    shutil.copytree(sample_dir, shop)
    tfdv.write_schema_text(schema, str(shop / "schema.pbtxt"))
    return load_config(
        testing.write_config(str(shop), {"schema": "schema.pbtxt", **(overrides or {})})
    )


def _gate_error(error):
    found = find_cause(error, AnomaliesError)
    assert found is not None, "the run did not stop at the DataGate"
    return str(found)


@pytest.mark.parametrize(
    "case, overrides, feature",
    [
        (
            "missing column",
            {"users": {"numeric": []}},
            "user__age",
        ),
        (
            "type change",
            {"items": {"categorical": ["category", "price"], "numeric": []}},
            "item__price",
        ),
    ],
)
def test_schema_anomalies_stop_the_run_before_training(
    case, overrides, feature, sample_dir, sample_config, curated_schema, tmp_path
):
    config = _shop(sample_dir, tmp_path, curated_schema, overrides)
    output = tmp_path / "out"
    with pytest.raises(Exception) as error:
        local.run(config, str(output), quiet=True)
    message = _gate_error(error.value)
    assert f"feature '{feature}'" in message, (case, message)
    assert not (output / "pipelines" / config.name / "Trainer").exists()
    assert bundle.versions(str(output / "serving" / config.name)) == []


def test_out_of_range_rating_is_an_anomaly(sample_dir, curated_schema, tmp_path):
    schema = schema_pb2.Schema()
    schema.CopyFrom(curated_schema)
    rating = tfdv.get_feature(schema, "rating")
    rating.float_domain.min, rating.float_domain.max = 1.0, 5.0
    config = _shop(sample_dir, tmp_path, schema)
    path = config.resolve("interactions.csv")
    with open(path) as f:
        lines = f.read().splitlines()
    header = lines[0].split(",")
    column = header.index("rating")
    for i in range(1, len(lines)):
        fields = lines[i].split(",")
        if fields[column]:
            fields[column] = "9"
            lines[i] = ",".join(fields)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    with pytest.raises(Exception) as error:
        local.run(config, str(tmp_path / "out"), quiet=True)
    assert "feature 'rating'" in _gate_error(error.value)


def _executions(output, component):
    store = mlmd.MetadataStore(connection_config(os.path.join(output, "metadata.sqlite")))
    name = f"tfx.components.{component}"
    return [e.last_known_state for e in store.get_executions_by_type(name)]


def _trainers_child(runner, output):
    """The Trainer's child process, once the run's log says it runs (else None)."""
    del runner
    for log in os.listdir(os.path.join(output, "logs")):
        with open(os.path.join(output, "logs", log)) as f:
            found = re.search(r"ChildProcessExecutor: \S+ runs in process (\d+)", f.read())
        if found:
            return int(found.group(1))
    return None


def _beam_worker(runner, output):
    """A Beam SDK worker of the run (multi_processing mode), once one runs (else None)."""
    import psutil

    del output
    for process in psutil.Process(runner.pid).children(recursive=True):
        try:
            if "recsearch.beam_worker" in " ".join(process.cmdline()):
                return process.pid
        except psutil.Error:  # gone, or a zombie
            continue
    return None


def _run_until(config_path, output, find):
    """`recsearch run` with the Trainer in a child process, watched until `find(runner,
    output)` names a process of it; the runner and every process of the run then."""
    import psutil

    shutil.rmtree(os.path.join(output, "logs"), ignore_errors=True)
    os.makedirs(os.path.join(output, "logs"))
    command = ["run", "--config", config_path, "--output", output]
    runner = subprocess.Popen(
        [sys.executable, "-m", "recsearch.apps.cli", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, local.CHILD_PROCESS_ENV: "always"},
    )
    deadline = time.time() + 600
    while (found := find(runner, output)) is None:
        assert runner.poll() is None and time.time() < deadline, runner.stderr.read()
        time.sleep(0.3)
    family = [runner.pid, *(p.pid for p in psutil.Process(runner.pid).children(recursive=True))]
    assert found in family
    return runner, family


def _left(pids, seconds=10.0):
    """The processes of `pids` still running (not zombies) after up to `seconds`."""
    import psutil

    ended = time.time() + seconds
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.time() > ended:
            return alive
        time.sleep(0.2)


def test_a_stopped_run_leaves_no_process_and_a_rerun_resumes_and_pushes(sample_dir, tmp_path):
    """SIGKILL of the runner while Beam's workers run ExampleGen (multi_processing mode),
    then SIGTERM of the rerun's runner while the Trainer trains in its child process, then
    a rerun to the end: no process of a stopped run is left 10 s later, each rerun starts
    after the last completed step, and the last one pushes."""
    output = str(tmp_path / "out")
    shop = tmp_path / "shop"
    shutil.copytree(sample_dir, shop)
    beam = {"direct_running_mode": "multi_processing", "direct_num_workers": 2}
    config_path = testing.write_config(str(shop), {"beam": beam})
    runner, family = _run_until(config_path, output, _beam_worker)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    assert _left(family) == [], "a process of the killed run outlived it by 10 s"
    # The rerun starts over from ExampleGen; SIGTERM in the Trainer, as a scheduler stops it.
    runner, family = _run_until(config_path, output, _trainers_child)
    runner.send_signal(signal.SIGTERM)
    _, said = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signal.SIGTERM
    assert "error: the run was stopped by SIGTERM" in said and "Traceback" not in said
    assert _left(family) == [], "a process of the stopped run outlived it by 10 s"
    assert _executions(output, "transform.component.Transform") == [mlmd.proto.Execution.COMPLETE]
    # SIGTERM is handled: the step it stopped is FAILED in ML Metadata, not left RUNNING.
    assert _executions(output, "trainer.component.Trainer")[-1] == mlmd.proto.Execution.FAILED
    summary = local.run(load_config(config_path), output, quiet=True)
    assert _executions(output, "transform.component.Transform") == [
        mlmd.proto.Execution.COMPLETE,
        mlmd.proto.Execution.CACHED,
    ]
    trainer = _executions(output, "trainer.component.Trainer")
    assert trainer == [mlmd.proto.Execution.FAILED, mlmd.proto.Execution.COMPLETE]
    assert summary.pushed_to
    # The resumed Trainer wrote into a directory of its own execution, none of the
    # stopped ones' (where an orphan could still have been writing).
    store = mlmd.MetadataStore(connection_config(os.path.join(output, "metadata.sqlite")))
    runs = store.get_executions_by_type("tfx.components.trainer.component.Trainer")
    (model,) = [
        a
        for a in store.get_artifacts_by_type("Model")
        if "/Trainer/model/" in a.uri and a.state == mlmd.proto.Artifact.LIVE
    ]
    assert model.uri.rstrip("/").rsplit("/", 1)[-1] == str(runs[-1].id)
    assert runs[-1].id not in {r.id for r in runs[:-1]}


def test_pipelines_sharing_a_store_keep_their_own_baseline_and_a_failed_gate_pushes_nothing(
    sample_dir, tmp_path
):
    output = str(tmp_path / "out")
    first = local.run(load_config(os.path.join(sample_dir, "config.yaml")), output, quiet=True)
    assert first.blessed
    other_dir = tmp_path / "other"
    shutil.copytree(sample_dir, other_dir)
    other = load_config(
        testing.write_config(
            str(other_dir),
            {
                "name": "other-shop",
                # Refused at the gate either way: the refit would only cost time.
                "release": {"latency_budget_ms": 1e-6, "refit": False},
            },
        )
    )
    summary = local.run(other, output, quiet=True)
    # No baseline: the first pipeline's blessed model is not this pipeline's.
    assert summary.baseline_metrics == {}
    catalog = next(c for c in summary.checks if c["name"] == "catalog")
    assert "baseline_coverage" not in catalog["figures"]
    assert not summary.blessed
    assert any(r.startswith("serving:") and "exceeds" in r for r in summary.reasons)
    assert summary.pushed_to is None
    assert bundle.versions(os.path.join(output, "serving", "other-shop")) == []
    assert len(bundle.versions(os.path.join(output, "serving", "shop"))) == 1
