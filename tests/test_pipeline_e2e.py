"""The real pipeline, end to end, on the tiny sample shop with LocalDagRunner.

One run trains, evaluates, blesses and pushes; the pushed SavedModel is
loaded and called. A second run reuses the cached data steps and warm-starts
the Trainer from the first run's blessed model. Bad data and a
schema anomaly stop the run before training and push nothing.
"""

import dataclasses
import glob
import json
import os
import re
import shutil

import ml_metadata as mlmd
import numpy as np
import pytest
import tensorflow as tf

from recsearch import bundle, ranking_metrics, versions
from recsearch.apps import cli, local, retention
from recsearch.apps.results import connection_config
from recsearch.config import load_config
from recsearch.errors import AnomaliesError, find_cause
from recsearch.testing import PIPELINE_COMPONENTS, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_run(sample_dir, tmp_path_factory):
    output = str(tmp_path_factory.mktemp("e2e"))
    config = load_config(os.path.join(sample_dir, "config.yaml"))
    # The Trainer runs in a child process, as in a large local run (apps/child_executor.py).
    summary = local.run(config, output, quiet=True, in_child=local.IN_CHILD)
    return config, output, summary


def test_run_blesses_and_pushes_in_tf_serving_layout(first_run):
    config, output, summary = first_run
    assert summary.blessed, summary.reasons
    assert set(summary.metrics) >= {"recall@10", "ndcg@10", "mrr@10", "hit_rate@10"}
    assert 0.0 < summary.metrics["recall@10"] <= 1.0
    # The README's claim: the candidate beats popularity on the sample shop, on the same
    # split (the gate scores popularity there); measured 1.65x recall@10, 1.57x ndcg@10.
    popularity = next(c for c in summary.checks if c["name"] == "popularity")
    for metric in ("recall@10", "ndcg@10"):
        baseline = popularity["figures"]["popularity"][metric]
        assert summary.metrics[metric] > 1.2 * baseline, (metric, summary.metrics, baseline)
    # The sample shop logs event types: every metric per type too, blessing on the overall.
    assert set(summary.event_metrics) == {"view", "cart", "purchase"}
    assert all(0.0 <= m["recall@10"] <= 1.0 for m in summary.event_metrics.values())
    serving = os.path.join(output, "serving", config.name)
    assert summary.serving_dir == serving
    versions = bundle.versions(serving)
    assert len(versions) == 1
    assert summary.pushed_to.rstrip("/") == os.path.join(serving, str(versions[0]))
    assert os.path.isfile(os.path.join(output, "metadata.sqlite"))


def test_trainer_ran_in_a_child_process_and_logged_to_the_run_log(first_run):
    _, output, _ = first_run
    (log,) = glob.glob(os.path.join(output, "logs", "*.log"))
    with open(log, encoding="utf-8") as f:
        text = f.read()
    ran = re.search(r"ChildProcessExecutor: \S+GenericExecutor runs in process (\d+)", text)
    assert ran and int(ran.group(1)) != os.getpid()
    # The child's own log lines (the Trainer's run_fn) reach the same file.
    assert "Trainer: refitting on train + held-out" in text[ran.end() :]


def test_pushed_bundle_answers_recommend_and_predict(first_run):
    config, output, summary = first_run
    model = bundle.load(summary.serving_dir)
    out = model.signatures["recommend"](user_id=tf.constant(["u00001", "u00002"]))
    assert out["item_ids"].shape == (2, config.serving.top_k)
    assert out["item_ids"].dtype == tf.string
    item = out["item_ids"].numpy()[0][0]
    score = model.signatures["predict"](
        user_id=tf.constant(["u00001"]), item_id=tf.constant([item])
    )["scores"].numpy()[0]
    assert np.isclose(score, out["scores"].numpy()[0][0], rtol=1e-5)


def test_cli_recommend_prints_ranked_items(first_run, capsys):
    _, _, summary = first_run
    assert cli.main(["recommend", "--model-dir", summary.serving_dir, "--user", "u00001"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 10
    assert lines[0].split()[0] == "1"


def test_evaluator_metrics_are_the_candidates_ranks_grouped_by_user(first_run):
    """The Evaluator's figures, overall and per event type, recomputed by hand: the
    candidate's serving_default rank of every eval example, grouped by user. (Its
    extractors drop every feature but the user and the event before grouping.)"""
    config, output, summary = first_run
    store = mlmd.MetadataStore(connection_config(os.path.join(output, "metadata.sqlite")))

    def first_output(component: str, kind: str) -> str:
        executions = store.get_executions_by_type(component)
        execution = min(executions, key=lambda e: e.id)
        events = store.get_events_by_execution_ids([execution.id])
        ids = [e.artifact_id for e in events if e.type == mlmd.proto.Event.OUTPUT]
        type_id = store.get_artifact_type(kind).id
        (artifact,) = [a for a in store.get_artifacts_by_id(ids) if a.type_id == type_id]
        return artifact.uri

    examples = first_output(
        "recsearch.components.recsys_example_gen.component.RecsysExampleGen", "Examples"
    )
    model = first_output("tfx.components.trainer.component.Trainer", "Model")
    files = tf.io.gfile.glob(os.path.join(examples, "Split-eval", "*"))
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    serve = tf.saved_model.load(os.path.join(model, "Format-Serving")).signatures["serving_default"]
    ranks = np.concatenate(
        [
            serve(examples=tf.constant(records[i : i + 256]))["rank"].numpy()
            for i in range(0, len(records), 256)
        ]
    )
    parsed = [tf.train.Example.FromString(r).features.feature for r in records]
    users = np.array([f["user_id"].bytes_list.value[0] for f in parsed])
    events = np.array([f["event"].bytes_list.value[0].decode() for f in parsed])
    k = config.evaluation.top_k
    expected = ranking_metrics.grouped_metrics(users, ranks, k)
    for name, value in expected.items():
        assert summary.metrics[f"{name}@{k}"] == pytest.approx(value, abs=1e-6), name
    assert set(summary.event_metrics) == set(events)
    for event, figures in summary.event_metrics.items():
        mine = events == event
        by_hand = ranking_metrics.grouped_metrics(users[mine], ranks[mine], k)
        for name, value in by_hand.items():
            assert figures[f"{name}@{k}"] == pytest.approx(value, abs=1e-6), (event, name)


def _last_states(output: str) -> dict[str, int]:
    """Each step's newest execution state, by the step's type name (its class)."""
    store = mlmd.MetadataStore(connection_config(os.path.join(output, "metadata.sqlite")))
    names = {t.id: t.name.rsplit(".", 1)[-1] for t in store.get_execution_types()}
    last = {}
    for execution in sorted(store.get_executions(), key=lambda e: e.id):
        last[names[execution.type_id]] = execution.last_known_state
    return last


def test_rerun_of_an_unchanged_config_is_all_cached_even_after_a_push(first_run, capsys):
    """The first run pushed; its rerun reads the same inputs, so it is the same run."""
    config, output, first = first_run
    served = bundle.versions(first.serving_dir)
    command = ["run", "--config", config.resolve("config.yaml"), "--output", output]
    assert cli.main(command) == 0
    states = _last_states(output)
    assert set(states) == {*PIPELINE_COMPONENTS - {"Pusher"}, "AtomicPusher"}
    assert set(states.values()) == {mlmd.proto.Execution.CACHED}, states
    assert bundle.versions(first.serving_dir) == served
    out = capsys.readouterr().out
    assert "Blessed: the candidate passed every release check." in out
    assert re.search(rf"recall@10 +{first.metrics['recall@10']:.4f}", out), out
    # Nothing was executed, so nothing was written.
    assert "Disk: this run wrote 0 B; the output folder holds" in out


def test_release_setting_change_reruns_only_the_gate_the_pusher_and_the_report(first_run):
    config, output, first = first_run
    served = bundle.versions(first.serving_dir)
    release = dataclasses.replace(config.release, latency_budget_ms=400.0)
    summary = local.run(dataclasses.replace(config, release=release), output, quiet=True)
    states = _last_states(output)
    ran = {name for name, state in states.items() if state != mlmd.proto.Execution.CACHED}
    assert ran == {"ReleaseGate", "AtomicPusher", "RunReport"}, states
    assert states["ReleaseGate"] == mlmd.proto.Execution.COMPLETE
    # Blessed again, the same model: the Pusher names the version already served.
    assert summary.blessed, summary.reasons
    assert bundle.versions(first.serving_dir) == served
    assert summary.pushed_to.rstrip("/") == os.path.join(first.serving_dir, str(served[-1]))


def test_second_run_reuses_cached_data_steps_and_warm_starts_the_trainer(first_run):
    """A model setting changed: the data steps stay cached, the Trainer trains again."""
    config, output, first = first_run
    versions = bundle.versions(first.serving_dir)
    model = dataclasses.replace(config.model, epochs=2, warm_start_epochs=1)
    retuned = dataclasses.replace(config, model=model)
    summary = local.run(retuned, output, quiet=True)
    # Warm-started, the candidate trains the shorter schedule (model.warm_start_epochs).
    with open(os.path.join(summary.model_run, "training_history.json")) as f:
        assert len(json.load(f)["loss"]) == 1
    store = mlmd.MetadataStore(connection_config(os.path.join(output, "metadata.sqlite")))

    def executions(component):
        name = component if component.startswith("recsearch.") else f"tfx.components.{component}"
        execution_type = store.get_execution_type(name)
        return sorted(store.get_executions_by_type(execution_type.name), key=lambda e: e.id)

    complete, cached = mlmd.proto.Execution.COMPLETE, mlmd.proto.Execution.CACHED
    for component in (
        "recsearch.components.recsys_example_gen.component.RecsysExampleGen",
        "statistics_gen.component.StatisticsGen",
        "schema_gen.component.SchemaGen",
        "example_validator.component.ExampleValidator",
        "transform.component.Transform",
    ):
        first_state, *later = [e.last_known_state for e in executions(component)]
        assert first_state == complete and set(later) == {cached}
    # The first run's pushed model is now what is served, so the Trainer has a
    # new input (base_model, the warm start, read by ServedModel) and trains again.
    first_trainer, *cached_trainers, second_trainer = executions("trainer.component.Trainer")
    assert {e.last_known_state for e in cached_trainers} <= {cached}
    assert second_trainer.last_known_state == complete

    def artifacts(execution, kind):
        events = store.get_events_by_execution_ids([execution.id])
        ids = [e.artifact_id for e in events if e.type == kind]
        return [a for a in store.get_artifacts_by_id(ids) if a.type_id == model_type]

    def graph(model_uri):
        with open(os.path.join(model_uri, "Format-Serving", "saved_model.pb"), "rb") as f:
            return f.read()

    model_type = store.get_artifact_type("Model").id
    (first_model,) = artifacts(first_trainer, mlmd.proto.Event.OUTPUT)
    (base_model,) = artifacts(second_trainer, mlmd.proto.Event.INPUT)
    assert base_model.custom_properties["served_version"].int_value == versions[0]
    # The judged twin of the served version: the first run's candidate, byte for byte.
    assert graph(base_model.uri) == graph(first_model.uri)
    # The Evaluator compared the candidate with that baseline on the same data.
    assert summary.baseline_metrics == pytest.approx(first.metrics)


def _copy_shop(sample_dir, tmp_path):
    target = tmp_path / "shop"
    shutil.copytree(sample_dir, target)
    return target


def test_bad_row_stops_before_anything_runs(sample_dir, tmp_path, capsys):
    shop = _copy_shop(sample_dir, tmp_path)
    lines = (shop / "interactions.csv").read_text().splitlines()
    fields = lines[5].split(",")
    fields[4] = "yesterday"  # the timestamp column
    lines[5] = ",".join(fields)
    (shop / "interactions.csv").write_text("\n".join(lines) + "\n")
    output = tmp_path / "out"
    code = cli.main(["run", "--config", str(shop / "config.yaml"), "--output", str(output)])
    assert code == 2
    err = capsys.readouterr().err
    assert "interactions.csv, column 'timestamp', row 5: expected unix seconds" in err
    assert not (output / "serving").exists()


def test_schema_anomaly_stops_before_training_and_pushes_nothing(first_run, tmp_path):
    config, output, _ = first_run
    schema = next(
        os.path.join(root, name)
        for root, _, files in os.walk(os.path.join(output, "pipelines", config.name, "SchemaGen"))
        for name in files
        if name == "schema.pbtxt"
    )
    shop = _copy_shop(os.path.dirname(config.resolve("config.yaml")), tmp_path)
    shutil.copy(schema, shop / "schema.pbtxt")
    users = (shop / "users.csv").read_text().splitlines()
    flooded = [users[0]] + [
        ",".join([*line.split(",")[:2], f"Z{i % 7}"]) for i, line in enumerate(users[1:])
    ]
    (shop / "users.csv").write_text("\n".join(flooded) + "\n")
    anomalous = load_config(write_config(str(shop), {"schema": "schema.pbtxt"}))
    new_output = tmp_path / "out"
    with pytest.raises(Exception) as error:
        local.run(anomalous, str(new_output), quiet=True)
    gate_error = find_cause(error.value, AnomaliesError)
    assert "feature 'user__country'" in str(gate_error)
    assert bundle.versions(str(new_output / "serving" / anomalous.name)) == []


def test_run_report_renders_in_a_real_browser(first_run, tmp_path):
    from recsearch.apps.report import browser
    from recsearch.components.run_report import build

    _, _, summary = first_run
    assert summary.report and os.path.isfile(summary.report)
    if browser.find_chromium() is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    page = browser.inspect(summary.report)
    assert page["loaded"]
    assert page["sections"] == list(build.SECTIONS)
    assert page["errors"] == []
    assert page["images"] > 5 and page["broken"] == 0


def test_report_command_rebuilds_the_report_from_metadata(first_run, capsys):
    config, output, summary = first_run
    assert cli.main(["report", "--config", config.resolve("config.yaml"), "--output", output]) == 0
    path = capsys.readouterr().out.split("Report: ")[-1].strip()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for anchor in ("verdict", "data", "training", "evaluation", "slices", "samples", "index"):
        assert f'id="{anchor}"' in text
    assert "recall@10" in text and "Release checks" in text


def test_clean_keeps_the_last_runs_what_they_reuse_and_what_is_served(first_run, capsys):
    config, output, first = first_run
    store = mlmd.MetadataStore(connection_config(os.path.join(output, "metadata.sqlite")))
    first_evaluation = min(store.get_artifacts_by_type("ModelEvaluation"), key=lambda a: a.id)
    first_report = min(store.get_artifacts_by_type("system.HTML"), key=lambda a: a.id)
    before = retention.tree_bytes(output)
    command = ["clean", "--config", config.resolve("config.yaml"), "--output", output]
    assert cli.main([*command, "--keep-runs", "1"]) == 0
    out = capsys.readouterr().out
    removed = int(re.search(r"removed (\d+) artifacts", out).group(1))
    assert removed > 0
    # The first run's evaluation served no later run: gone, and marked so in ML Metadata.
    assert not os.path.exists(first_evaluation.uri)
    (state,) = [a.state for a in store.get_artifacts_by_id([first_evaluation.id])]
    assert state == mlmd.proto.Artifact.DELETED
    # A value artifact goes with its execution's directory (the report.html beside it).
    assert first_report.uri.endswith("/value")
    assert not os.path.exists(os.path.dirname(first_report.uri))
    # The model the newest served version was judged as is the next baseline: kept.
    newest = os.path.join(first.serving_dir, str(bundle.versions(first.serving_dir)[-1]))
    judged = versions.read_release(newest)["judged_model"]
    assert os.path.isfile(os.path.join(judged, "saved_model.pb"))
    assert retention.tree_bytes(output) < before
    assert len(glob.glob(os.path.join(output, "logs", f"{config.name}-*.log"))) == 1
    assert cli.main([*command, "--keep-runs", "0"]) == 2
    assert "keep_runs must be at least 1" in capsys.readouterr().err
