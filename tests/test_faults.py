"""Pipeline fault behaviour: anomalies stop the run, killed runs resume, the gate holds.

Each test runs the real pipeline (or its first half) on the tiny sample shop.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

import ml_metadata as mlmd
import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from recsearch import bundle
from recsearch.apps import local, testing
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


def test_killed_run_resumes_from_cached_components(sample_dir, tmp_path):
    output = str(tmp_path / "out")
    config_path = os.path.join(sample_dir, "config.yaml")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recsearch.apps.cli",
            "run",
            "--config",
            config_path,
            "--output",
            output,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 600
    for line in process.stderr:
        if "Trainer ..." in line or time.time() > deadline:
            break
    time.sleep(2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _executions(output, "transform.component.Transform") == [mlmd.proto.Execution.COMPLETE]
    summary = local.run(load_config(config_path), output, quiet=True)
    assert _executions(output, "transform.component.Transform") == [
        mlmd.proto.Execution.COMPLETE,
        mlmd.proto.Execution.CACHED,
    ]
    trainer = _executions(output, "trainer.component.Trainer")
    assert trainer[-1] == mlmd.proto.Execution.COMPLETE and len(trainer) == 2
    assert summary.pushed_to


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
