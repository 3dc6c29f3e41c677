"""The compiled KFP v2 spec: every task, its image and the dependencies between them."""

import json

from recsearch.kubeflow import runner


def test_compile_writes_every_task(sample_config, tmp_path):
    path = runner.compile_pipeline(
        sample_config,
        str(tmp_path / "shop.json"),
        image="registry.local/recsearch:test",
        pipeline_root="gs://bucket/root",
    )
    with open(path) as f:
        spec = json.load(f)
    tasks = spec["pipelineSpec"]["root"]["dag"]["tasks"]
    assert {
        "RecsysExampleGen",
        "StatisticsGen",
        "SchemaGen",
        "ExampleValidator",
        "DataGate",
        "Transform",
        "Trainer",
        "Evaluator",
        "Pusher",
    } <= set(tasks)
    assert "Trainer" in tasks["Evaluator"]["dependentTasks"]
    assert "DataGate" in tasks["Transform"]["dependentTasks"]
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    images = {e["container"]["image"] for e in executors.values() if "container" in e}
    assert images == {"registry.local/recsearch:test"}
    gen = executors["RecsysExampleGen_executor"]["container"]
    assert "recsearch.components.recsys_example_gen.executor.Executor" in gen["args"]
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"


def test_report_outputs_are_kfp_visualisation_artifacts(sample_config, tmp_path):
    path = runner.compile_pipeline(sample_config, str(tmp_path / "shop.json"))
    with open(path) as f:
        spec = json.load(f)
    component = spec["pipelineSpec"]["components"]["RunReport"]
    outputs = component["outputDefinitions"]["artifacts"]
    titles = {name: out["artifactType"]["instanceSchema"] for name, out in outputs.items()}
    assert "title: system.HTML" in titles["report"]
    assert "title: system.Markdown" in titles["summary"]
    assert "title: system.Metrics" in titles["metrics"]


def test_runtime_parameters_resources_and_node_selectors(sample_config, tmp_path):
    import dataclasses

    import pytest

    from recsearch.config import Kubeflow, Resources
    from recsearch.errors import ConfigError

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
    path = runner.compile_pipeline(config, str(tmp_path / "shop.json"))
    with open(path) as f:
        job = json.load(f)
    parameters = job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == {"data_root", "range_config", "train_args", "trainer_config"}
    defaults = job["runtimeConfig"]["parameters"]
    assert defaults["data_root"]["stringValue"] == config.resolve(".")
    assert json.loads(defaults["trainer_config"]["stringValue"])["model_name"] == "two_tower"
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"]
    trainer = executors["Trainer_executor"]["container"]["resources"]
    assert trainer["cpuLimit"] == 8 and trainer["memoryLimit"] == 30
    assert trainer["accelerator"] == {"type": "NVIDIA_TESLA_T4", "count": "1"}
    assert executors["Transform_executor"]["container"]["resources"]["cpuLimit"] == 2
    selectors = job["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert selectors == {"Trainer_executor": {"nodeSelector": {"labels": {"pool": "gpu"}}}}
    replicas = dataclasses.replace(config, kubeflow=Kubeflow(trainer=Resources(replicas=2)))
    with pytest.raises(ConfigError, match="multi-replica"):
        runner.compile_pipeline(replicas, str(tmp_path / "x.json"))


def test_tuner_compiles_between_transform_and_trainer(sample_config, tmp_path):
    import dataclasses

    config = dataclasses.replace(
        sample_config,
        tuning=dataclasses.replace(
            sample_config.tuning, max_trials=2, search_space={"learning_rate": (0.001, 0.01)}
        ),
    )
    with open(runner.compile_pipeline(config, str(tmp_path / "tuned.json"))) as f:
        tasks = json.load(f)["pipelineSpec"]["root"]["dag"]["tasks"]
    assert "Transform" in tasks["Tuner"]["dependentTasks"]
    assert "Tuner" in tasks["Trainer"]["dependentTasks"]
