"""The compiled KFP v2 spec: tasks, images, resources, accelerators and path hygiene.

Whether the spec runs as KFP runs it is tests/test_kfp_conformance.py.
"""

import dataclasses
import json

import pytest

from recsearch import testing
from recsearch.config import Kubeflow, Resources
from recsearch.errors import ConfigError, Problems
from recsearch.kubeflow import runner

ROOTS = dict(pipeline_root="gs://bucket/root", data_root="gs://bucket/data")


def _compile(config, tmp_path, name="shop.json", **kwargs) -> dict:
    path = runner.compile_pipeline(config, str(tmp_path / name), **{**ROOTS, **kwargs})
    with open(path) as f:
        return json.load(f)


def test_compile_writes_every_task(sample_config, tmp_path):
    spec = _compile(sample_config, tmp_path, image="registry.local/recsearch:test")
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(tasks) == testing.PIPELINE_COMPONENTS
    assert "Trainer" in tasks["Evaluator"]["dependentTasks"]
    assert "ServedModel" in tasks["Evaluator"]["dependentTasks"]
    assert "DataGate" in tasks["Transform"]["dependentTasks"]
    # What is served is read afresh on every run.
    assert tasks["ServedModel"]["cachingOptions"] == {"enableCache": False}
    assert tasks["Transform"]["cachingOptions"] == {"enableCache": True}
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    images = {e["container"]["image"] for e in executors.values() if "container" in e}
    assert images == {"registry.local/recsearch:test"}
    gen = executors["RecsysExampleGen_executor"]["container"]
    assert "recsearch.components.recsys_example_gen.executor.Executor" in gen["args"]
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
    assert spec["labels"]["recsearch-image"] == "unpinned-recsearch-test"
    assert len(spec["labels"]["recsearch-commit"]) in (7, 40) or (
        spec["labels"]["recsearch-commit"] == "unknown"
    )


def test_report_outputs_are_kfp_visualisation_artifacts(sample_config, tmp_path):
    spec = _compile(sample_config, tmp_path)
    component = spec["pipelineSpec"]["components"]["RunReport"]
    outputs = component["outputDefinitions"]["artifacts"]
    titles = {name: out["artifactType"]["instanceSchema"] for name, out in outputs.items()}
    assert "title: system.HTML" in titles["report"]
    assert "title: system.Markdown" in titles["summary"]
    assert "title: system.Metrics" in titles["metrics"]


def test_runtime_parameters_resources_and_node_selectors(sample_config, tmp_path):
    config = dataclasses.replace(
        sample_config,
        kubeflow=Kubeflow(
            trainer=Resources(
                cpu=8,
                memory_gb=30,
                accelerator="NVIDIA_TESLA_T4",
                accelerator_count=1,
                node_selector=("pool=gpu",),
            ),
            components=Resources(cpu=2, memory_gb=8),
        ),
    )
    job = _compile(config, tmp_path, image="reg/recsearch:1.0")
    parameters = job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == {
        "data_root",
        "serving_dir",
        "state_dir",
        "range_config",
        "train_args",
        "trainer_config",
    }
    assert parameters["data_root"]["defaultValue"] == "gs://bucket/data"
    assert parameters["serving_dir"]["defaultValue"] == "gs://bucket/root/serving/shop"
    trainer_config = json.loads(parameters["trainer_config"]["defaultValue"])
    assert trainer_config["model_name"] == "two_tower"
    assert trainer_config["accelerator"] == "NVIDIA_TESLA_T4"
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"]
    trainer = executors["Trainer_executor"]["container"]
    assert trainer["resources"]["cpuLimit"] == 8 and trainer["resources"]["memoryLimit"] == 30
    # Open-source KFP schedules a GPU by its Kubernetes resource name, on the GPU image.
    assert trainer["resources"]["accelerator"] == {"type": "nvidia.com/gpu", "count": "1"}
    assert trainer["image"] == "reg/recsearch:1.0-gpu"
    assert executors["Transform_executor"]["container"]["image"] == "reg/recsearch:1.0"
    # Every step has resources, ExampleGen included (TFX's compiler drops them there).
    for name, executor in executors.items():
        assert executor["container"]["resources"]["cpuLimit"] >= 2, name
    selectors = job["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert selectors == {"Trainer_executor": {"nodeSelector": {"labels": {"pool": "gpu"}}}}
    replicas = dataclasses.replace(config, kubeflow=Kubeflow(trainer=Resources(replicas=2)))
    with pytest.raises(ConfigError, match="multi-replica"):
        runner.compile_pipeline(replicas, str(tmp_path / "x.json"), **ROOTS)


def test_accelerators_are_named_as_each_target_wants():
    gpu = Resources(accelerator="NVIDIA_L4", accelerator_count=2)
    assert runner.accelerator_name(gpu, "kfp", "k") == "nvidia.com/gpu"
    assert runner.accelerator_name(gpu, "vertex", "k") == "NVIDIA_L4"
    amd = Resources(accelerator="amd.com/gpu")
    assert runner.accelerator_name(amd, "kfp", "k") == "amd.com/gpu"
    with pytest.raises(ConfigError, match="Vertex wants its own names"):
        runner.accelerator_name(amd, "vertex", "kubeflow.trainer")
    with pytest.raises(ConfigError, match="schedules no TPUs"):
        runner.accelerator_name(Resources(accelerator="TPU_V3"), "kfp", "kubeflow.trainer")
    assert runner.accelerator_name(Resources(accelerator="TPU_V3"), "vertex", "k") == "TPU_V3"
    assert runner.accelerator_name(Resources(), "kfp", "k") is None


def test_vertex_spec_keeps_vertex_names(sample_config, tmp_path):
    config = dataclasses.replace(
        sample_config,
        kubeflow=Kubeflow(
            target="vertex",
            gpu_image="reg/gpu@sha256:abc",
            trainer=Resources(accelerator="NVIDIA_L4"),
        ),
    )
    executors = _compile(config, tmp_path)["pipelineSpec"]["deploymentSpec"]["executors"]
    trainer = executors["Trainer_executor"]["container"]
    assert trainer["resources"]["accelerator"]["type"] == "NVIDIA_L4"
    assert trainer["image"] == "reg/gpu@sha256:abc"


def test_local_paths_are_refused_naming_each_key(sample_config, tmp_path):
    config = dataclasses.replace(
        sample_config,
        schema="/home/me/schema.pbtxt",
        interactions=dataclasses.replace(sample_config.interactions, path="../logs/x.csv"),
    )
    with pytest.raises(Problems) as caught:
        runner.compile_pipeline(
            config, str(tmp_path / "x.json"), pipeline_root="/tmp/root", data_root=None
        )
    text = str(caught.value)
    assert "'kubeflow.pipeline_root' is '/tmp/root', which the cluster cannot reach" in text
    assert "'kubeflow.data_root' is required to compile for Kubeflow" in text
    assert "'schema' is a path on this machine (/home/me/schema.pbtxt)" in text
    assert "'interactions.path' (../logs/x.csv) climbs out of kubeflow.data_root" in text
    assert not (tmp_path / "x.json").exists()


def test_labels_name_the_commit_and_the_image_digest():
    pinned = runner.build_labels("europe-docker.pkg.dev/p/ml/recsearch@sha256:" + "ab" * 32, "F00D")
    assert pinned["recsearch-commit"] == "f00d"
    assert pinned["recsearch-image"].startswith("sha256-abab")
    assert len(pinned["recsearch-image"]) == 63
    assert runner.build_labels("reg/recsearch:1.2", "x")["recsearch-image"] == (
        "unpinned-recsearch-1-2"
    )
    assert runner.gpu_image(Kubeflow(), "reg/recsearch") == "reg/recsearch:latest-gpu"
    with pytest.raises(ConfigError, match="pinned by digest"):
        runner.gpu_image(Kubeflow(), "reg/recsearch@sha256:00")


def test_tuner_compiles_between_transform_and_trainer(sample_config, tmp_path):
    config = dataclasses.replace(
        sample_config,
        tuning=dataclasses.replace(
            sample_config.tuning, max_trials=2, search_space={"learning_rate": (0.001, 0.01)}
        ),
    )
    tasks = _compile(config, tmp_path, "tuned.json")["pipelineSpec"]["root"]["dag"]["tasks"]
    assert "Transform" in tasks["Tuner"]["dependentTasks"]
    assert "Tuner" in tasks["Trainer"]["dependentTasks"]
