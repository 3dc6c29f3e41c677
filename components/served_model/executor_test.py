"""ServedModel's executor: the served version (or its judged twin), and the last schema."""

import os

from tfx.types import standard_artifacts

from recsearch import versions
from recsearch.components.evaluator.executor import without_empty_baseline
from recsearch.components.served_model import executor


def _saved_model(directory, marker: bytes) -> str:
    os.makedirs(os.path.join(directory, "variables"), exist_ok=True)
    with open(os.path.join(directory, "saved_model.pb"), "wb") as f:
        f.write(marker)
    return str(directory)


def _run(tmp_path, serving: str, state: str, name: str):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / name / "model")
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / name / "schema")
    executor.Executor().Do(
        {},
        {"model": [model], "previous_schema": [schema]},
        {"serving_dir": serving, "state_dir": state},
    )
    return model, schema


def _graph(model) -> bytes:
    with open(os.path.join(model.uri, "Format-Serving", "saved_model.pb"), "rb") as f:
        return f.read()


def test_first_run_has_an_empty_baseline_that_the_evaluator_drops(tmp_path):
    model, schema = _run(tmp_path, str(tmp_path / "serving"), str(tmp_path / "state"), "first")
    assert model.get_int_custom_property("served_version") == 0
    assert not executor.is_present(model.uri)
    assert os.listdir(schema.uri) == []
    candidate = standard_artifacts.Model()
    kept = without_empty_baseline({"model": [candidate], "baseline_model": [model]})
    assert kept == {"model": [candidate]}


def test_baseline_is_the_judged_twin_of_the_newest_version_when_it_is_still_there(tmp_path):
    serving = str(tmp_path / "serving")
    judged = _saved_model(tmp_path / "run1" / "Format-Serving", b"judged-1")
    versions.publish(
        _saved_model(tmp_path / "refit1", b"refit-1"), serving, release={"judged_model": judged}
    )
    newest, _ = versions.publish(
        _saved_model(tmp_path / "refit2", b"refit-2"),
        serving,
        release={"judged_model": str(tmp_path / "gone" / "Format-Serving")},
    )
    state = tmp_path / "state"
    state.mkdir()
    (state / "schema.pbtxt").write_text('feature { name: "user_id" type: BYTES }')
    model, schema = _run(tmp_path, serving, str(state), "second")
    # The newest version's judged model is gone: the served version itself is the baseline.
    assert model.get_int_custom_property("served_version") == newest
    assert _graph(model) == b"refit-2"
    assert executor.is_present(model.uri)
    assert "user_id" in (tmp_path / "second" / "schema" / "schema.pbtxt").read_text()
    # With its judged model still there, that one is compared against (no held-out rows seen).
    versions.rollback(serving)
    model, _ = _run(tmp_path, serving, str(state), "third")
    assert _graph(model) == b"judged-1"
    kept = without_empty_baseline({"baseline_model": [model]})
    assert kept["baseline_model"] == [model]
