"""The compiled Kubeflow spec, run the way KFP's v2 backend runs it (tests/kfp_conformance.py).

Every task runs its exact container command (TFX's kubeflow_v2_run_executor,
and ExampleGen's driver as a preCacheCheck) with the executor input an
open-source KFP v2 driver would build: parameterValues only, root parameters
from the spec's defaults and the run's overrides. Two runs on the sample
shop: the first pushes; the second is measured against what the first pushed
and warm-starts from it. Then the spec is doctored with each defect that once
kept it from running, and the runner must refuse or fail it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os

import pytest

from recsearch import versions
from recsearch.kubeflow import client, runner
from tests import kfp_conformance as kfp

pytestmark = pytest.mark.slow

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DOCKERFILE = os.path.join(REPO, "Dockerfile")


def compile_job(config, path: str) -> dict:
    """The config compiled for a cluster's bucket and image, as `recsearch kubeflow compile`."""
    path = runner.compile_pipeline(
        config,
        path,
        image="registry.example/recsearch:test",
        pipeline_root="gs://shop-bucket/pipelines",
        data_root="gs://shop-bucket/data",
    )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def compiled(sample_config, tmp_path_factory):
    return compile_job(sample_config, str(tmp_path_factory.mktemp("compiled") / "shop.json"))


@pytest.fixture(scope="module")
def two_runs(compiled, sample_dir, tmp_path_factory):
    """Two runs of the compiled spec; the run overrides every root, as `submit` may."""
    base = tmp_path_factory.mktemp("kfp")
    work = base / "work"  # the container's working directory: no checkout there
    work.mkdir()
    conformance = kfp.ConformanceRunner(
        compiled,
        pipeline_root=str(base / "root"),
        env=kfp.dockerfile_env(DOCKERFILE),
        workdir=str(work),
    )
    overrides = {
        client.DATA_ROOT: sample_dir,
        client.SERVING_DIR: str(base / "serving"),
        client.STATE_DIR: str(base / "state"),
    }
    first = conformance.run("run-1", overrides)
    second = conformance.run("run-2", overrides)
    return first, second, str(base / "serving")


def test_spec_is_2_1_without_resolvers_and_every_root_parameter_has_a_default(compiled):
    spec = compiled["pipelineSpec"]
    assert spec["schemaVersion"] == "2.1.0"
    assert not [e for e in spec["deploymentSpec"]["executors"].values() if "resolver" in e]
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) >= {client.DATA_ROOT, client.SERVING_DIR, client.TRAINER_CONFIG}
    assert all("defaultValue" in p for p in parameters.values())
    assert parameters[client.DATA_ROOT]["defaultValue"] == "gs://shop-bucket/data"


def test_spec_holds_no_path_of_the_compiling_machine(compiled, sample_dir):
    text = json.dumps(compiled)
    for local in {sample_dir, REPO, os.getcwd(), os.path.expanduser("~") + "/"}:
        assert local not in text, f"{local} is in the compiled spec"


def test_every_artifact_type_imports_as_the_entrypoint_imports_it(compiled):
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils
    from tfx.utils import import_utils

    titles = set()
    for component in compiled["pipelineSpec"]["components"].values():
        for side in ("inputDefinitions", "outputDefinitions"):
            for artifact in component.get(side, {}).get("artifacts", {}).values():
                schema = pipeline_spec_pb2.ArtifactTypeSchema(
                    instance_schema=artifact["artifactType"]["instanceSchema"]
                )
                path = utils._retrieve_class_path(schema)
                titles.add(path)
                import_utils.import_class_by_path(path)
    # The dashboard renders these three by their titles.
    assert {"system.HTML", "system.Markdown", "system.Metrics"} <= titles


def test_first_run_pushes_and_the_dashboard_artifacts_are_written(two_runs):
    first, _, serving = two_runs
    assert first["ServedModel"].outputs["model"]["metadata"]["served_version"] == 0
    pushed = first["Pusher"].outputs["pushed_model"]["metadata"]
    assert pushed["pushed"] == 1
    first_version = versions.served_versions(serving)[0]  # the second run may push another
    assert str(first_version) == pushed["pushed_version"]
    release = versions.read_release(os.path.join(serving, str(first_version)))
    assert release["judged_model"].endswith("Format-Serving")
    assert release["checks"] and all(c["passed"] for c in release["checks"])
    report = first["RunReport"].outputs
    with open(report["report"]["uri"], encoding="utf-8") as f:
        assert "<html" in f.read().lower()
    with open(report["summary"]["uri"], encoding="utf-8") as f:
        assert f.read().startswith("#")
    assert report["metrics"]["metadata"]["recall@10"] > 0.0


def test_second_run_is_measured_against_the_served_model_and_warm_starts(two_runs):
    first, second, serving = two_runs
    version = int(first["Pusher"].outputs["pushed_model"]["metadata"]["pushed_version"])
    baseline = second["ServedModel"].outputs["model"]
    assert baseline["metadata"]["served_version"] == version
    # The judged twin of the served version: the first run's candidate, copied.
    assert os.path.isfile(os.path.join(baseline["uri"], "Format-Serving", "saved_model.pb"))
    blessing = second["ReleaseGate"].outputs["blessing"]["metadata"]
    assert blessing["baseline_model"] == baseline["uri"]
    assert blessing["baseline_version"] == version
    # TFMA compared the two: the candidate's metrics carry a diff against the baseline.
    evaluation = second["Evaluator"].outputs["evaluation"]["uri"]
    from recsearch.components.evaluator.results import read_metrics

    metrics, baseline_metrics = read_metrics(evaluation)
    assert baseline_metrics and set(baseline_metrics) <= set(metrics)
    run_dir = second["Trainer"].outputs["model_run"]["uri"]
    with open(os.path.join(run_dir, "warm_start.json"), encoding="utf-8") as f:
        assert json.load(f)["tables"]
    # The schema the first run left in the state directory came back as "previous".
    previous = second["ServedModel"].outputs["previous_schema"]["uri"]
    assert os.path.isfile(os.path.join(previous, "schema.pbtxt"))
    assert not os.listdir(first["ServedModel"].outputs["previous_schema"]["uri"])


def test_the_runner_refuses_each_defect_the_spec_once_had(compiled, tmp_path):
    """Each defect of the old spec, put back by hand, is refused as the backend would."""

    def refused(job, **overrides):
        with pytest.raises(kfp.SpecRefused) as caught:
            kfp.ConformanceRunner(job, str(tmp_path)).root_parameters(overrides)
        return str(caught.value)

    old = copy.deepcopy(compiled)
    old["pipelineSpec"]["schemaVersion"] = "2.0.0"
    assert "parameterValues" in refused(old)

    resolver = copy.deepcopy(compiled)
    resolver["pipelineSpec"]["deploymentSpec"]["executors"]["latest_blessed_model_resolver"] = {
        "resolver": {"outputArtifactQueries": {}}
    }
    assert "resolver not implemented yet" in refused(resolver)

    no_default = copy.deepcopy(compiled)
    del no_default["pipelineSpec"]["root"]["inputDefinitions"]["parameters"][client.DATA_ROOT][
        "defaultValue"
    ]
    assert "'data_root' has no default" in refused(no_default)
    assert "no parameters ['nope']" in refused(compiled, nope="x")


def test_an_artifact_type_the_entrypoint_cannot_import_fails_its_task(compiled, tmp_path):
    """RunReport's outputs once had titles TFX's entrypoint could not import."""
    job = copy.deepcopy(compiled)
    job["pipelineSpec"]["root"]["dag"]["tasks"] = {
        "ServedModel": job["pipelineSpec"]["root"]["dag"]["tasks"]["ServedModel"]
    }
    outputs = job["pipelineSpec"]["components"]["ServedModel"]["outputDefinitions"]["artifacts"]
    outputs["model"]["artifactType"]["instanceSchema"] = "title: kfp.HTML\ntype: object\n"
    conformance = kfp.ConformanceRunner(
        job, str(tmp_path / "root"), env=kfp.dockerfile_env(DOCKERFILE), workdir=str(tmp_path)
    )
    with pytest.raises(kfp.TaskFailed, match="kfp"):
        conformance.run("bad", {client.SERVING_DIR: str(tmp_path / "s")})


def test_a_two_stage_config_compiles_and_runs_to_a_pushed_two_stage_bundle(
    sample_config, sample_dir, tmp_path
):
    """Two stages live in the Trainer's run_fn and the Evaluator's config: the same graph."""
    config = dataclasses.replace(
        sample_config,
        model=dataclasses.replace(
            sample_config.model, name="two_tower", ranker="dcn", rerank_depth=12, freshness=True
        ),
    )
    job = compile_job(config, str(tmp_path / "two_stage.json"))
    work = tmp_path / "work"
    work.mkdir()
    conformance = kfp.ConformanceRunner(
        job, str(tmp_path / "root"), env=kfp.dockerfile_env(DOCKERFILE), workdir=str(work)
    )
    serving = str(tmp_path / "serving")
    done = conformance.run(
        "two-stage",
        {
            client.DATA_ROOT: sample_dir,
            client.SERVING_DIR: serving,
            client.STATE_DIR: str(tmp_path / "state"),
        },
    )
    pushed = done["Pusher"].outputs["pushed_model"]["metadata"]
    assert pushed["pushed"] == 1
    from recsearch.modules.refit import REFIT_HISTORY_FILE
    from recsearch.modules.train_export import HISTORY_FILE

    run_dir = done["Trainer"].outputs["model_run"]["uri"]
    with open(os.path.join(run_dir, HISTORY_FILE), encoding="utf-8") as f:
        history = json.load(f)
    assert history["ranker"] == "dcn" and history["ranker_training"]["rows"] > 0
    # The pushed (refit) bundle's ranker learnt from the held-out interactions too.
    with open(os.path.join(run_dir, REFIT_HISTORY_FILE), encoding="utf-8") as f:
        refit = json.load(f)["ranker_training"]
    assert refit["rows"] == history["ranker_training"]["rows"] + refit["rows_heldout"] > 0
    from recsearch.components.evaluator.results import read_metrics

    metrics, _ = read_metrics(done["Evaluator"].outputs["evaluation"]["uri"])
    # Each stage's figure: the retrieval stage's recall at N bounds the bundle's at K.
    assert 0.0 < metrics["recall@10"] <= metrics["retrieval_recall@12"]
    import tensorflow as tf

    bundle = tf.saved_model.load(os.path.join(serving, pushed["pushed_version"]))
    answer = bundle.signatures["recommend_at"](
        user_id=tf.constant(["u00001"]), request_time=tf.constant([1_700_000_000], tf.int64)
    )
    assert answer["item_ids"].shape == (1, config.serving.top_k)
