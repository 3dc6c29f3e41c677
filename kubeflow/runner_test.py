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
