"""Config loading: defaults, strict keys and types, messages that name the key."""

import os

import pytest
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from recsearch import config as config_lib
from recsearch import model_registry
from recsearch.data import sample
from recsearch.errors import ConfigError

BOOKS = """
name: books
task: retrieval
interactions: {path: data/train.csv, user: user_id, item: book_name, rating: rating, timestamp: ts}
items: {path: data/books.csv, id: book_name, text: [book_name, authors], categorical: [publisher],
        numeric: [num_pages]}
users: {path: data/users.csv, id: user_id, categorical: [country], numeric: [age]}
split: {method: random, eval_fraction: 0.2, seed: 42}
"""


def _write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_issue_example_loads_with_paths_relative_to_the_file(tmp_path):
    config = config_lib.load_config(_write(tmp_path, BOOKS))
    assert config.name == "books"
    assert config.items.text == ("book_name", "authors")
    assert config.split.method == "random"
    assert config.model_name == "two_tower"
    assert config.eval_metric == "recall"
    assert config.resolve(config.items.path) == os.path.join(str(tmp_path), "data", "books.csv")


def test_shipped_sample_config_loads():
    text = sample.default_config_text()
    assert "interactions" in text


def test_json_round_trip(tmp_path):
    config = config_lib.load_config(_write(tmp_path, BOOKS))
    assert config_lib.from_json(config_lib.to_json(config)) == config


def test_item_ages_without_a_timestamp_column_are_refused(tmp_path):
    untimed = BOOKS.replace(", timestamp: ts", "")
    ranker = "model: {name: two_tower, ranker: dcn, freshness: true}\n"
    with pytest.raises(ConfigError, match="'model.freshness' needs interactions.timestamp"):
        config_lib.load_config(_write(tmp_path, untimed + ranker))
    config = config_lib.load_config(_write(tmp_path, BOOKS + ranker))
    assert config.model.freshness


@pytest.mark.parametrize(
    "change, message",
    [
        ("split: {method: random, eval_fractoin: 0.2}", "unknown key 'split.eval_fractoin'"),
        ("split: {method: sideways}", "'split.method' must be one of"),
        ("split: {eval_fraction: 1.5}", "'split.eval_fraction' must be between 0 and 1"),
        ("model: {epochs: two}", "'model.epochs' must be an integer, got 'two'"),
        ("model: {embedding_dim: 0}", "'model.embedding_dim' must be positive, got 0"),
        ("model: {max_examples: 0}", "'model.max_examples' must be positive, got 0"),
        ("task: rating\ninteractions: {path: a.csv}", "'interactions.rating' must name"),
        ("features: {crosses: [[user.country]]}", "'features.crosses[0]' must name two"),
        ("evaluation: {metric: rmse}", "'evaluation.metric' 'rmse' does not fit"),
        ("evaluation: {metric: auc}", "'evaluation.metric' 'auc' does not fit task 'retrieval'"),
        ("task: rating\nmodel: {name: deepfm}", "'model.name' 'deepfm' does not fit"),
        ("model: {name: dcn}\nserving: {index: scann}", "'serving.index' 'scann' cannot search"),
        ("task: sequential\nsplit: {method: random}", "'split.method' must be 'temporal'"),
        (
            "task: sequential\nsplit: {method: temporal}\n"
            "model: {name: sasrec, embedding_dim: 10, attention_heads: 3}",
            "'model.attention_heads' must divide",
        ),
        ("model: {name: deepfm, num_negatives: 0}", "'model.num_negatives' must be positive"),
        (
            "model: {name: ease, temperature: 0.2}",
            "'model.temperature' does not apply to model 'ease'",
        ),
        (
            "model: {name: ease}\ntuning: {search_space: {mixed_negatives: [0, 8]}}",
            "'tuning.search_space.mixed_negatives' does not apply to model 'ease'",
        ),
        ("model: {name: lightgcn}", "'model.name' is not a model: 'lightgcn'"),
        ("model: {name: two_tower, ranker: ease}", "'model.ranker' must be one of"),
        ("model: {name: deepfm, ranker: dcn}", "needs a retrieval model as model.name"),
        (
            "model: {name: two_tower, ranker: dcn, rerank_depth: 5}",
            "'model.rerank_depth' must be at least serving.top_k .10., got 5",
        ),
        ("model: {name: ease, rerank_depth: 50}", "'model.rerank_depth' does not apply"),
        (
            "model: {name: two_tower, ranker: dcn, ease_l2: 10.0}",
            "'model.ease_l2' does not apply",
        ),
        ("tuning: {max_trials: 2}", "'tuning.search_space' must name at least one"),
        ("tuning: {search_space: {seed: [1, 2]}}", "'tuning.search_space.seed' is not a setting"),
        ("tuning: {search_space: {hidden_layers: [[8]]}}", "is a list setting"),
        ("tuning: {search_space: {loss: [softmax, listnet]}}", "'tuning.search_space.loss[1]'"),
        ("tuning: {search_space: {epochs: 3}}", "must be a non-empty list of values, got 3"),
    ],
)
def test_bad_values_name_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_lib.load_config(_write(tmp_path, BOOKS + change + "\n"))


def test_missing_file_and_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        config_lib.load_config(str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="missing required key 'interactions'"):
        config_lib.load_config(_write(tmp_path, "name: x\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        config_lib.load_config(_write(tmp_path, "name: [unclosed\n"))


def test_available_cores_honours_the_cgroup_quota(monkeypatch):
    import builtins

    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if path == "/sys/fs/cgroup/cpu.max":
            import io

            return io.StringIO("150000 100000\n")  # 1.5 CPUs: two workers
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(builtins, "open", fake_open)
    assert config_lib.available_cores() == 2


def test_beam_runners(tmp_path):
    config = config_lib.load_config(
        _write(
            tmp_path,
            BOOKS + "beam: {direct_num_workers: 0, " "direct_running_mode: multi_processing}\n",
        )
    )
    assert config.beam.pipeline_args(cores=3) == [
        "--direct_num_workers=3",
        "--direct_running_mode=multi_processing",
    ]
    assert config.beam.pipeline_args()[0] == f"--direct_num_workers={config_lib.available_cores()}"
    # auto: one process for a small log, a worker per core for a large or unknown one.
    auto = config_lib.Beam()
    # Beam's defaults: no arguments at all (TFX then stages no sdist of itself).
    assert auto.pipeline_args(cores=4, data_bytes=1000) == []
    options = PipelineOptions([]).view_as(DirectOptions)
    assert (options.direct_running_mode, options.direct_num_workers) == config_lib.BEAM_DEFAULTS
    large = config_lib.AUTO_MULTI_PROCESSING_BYTES
    assert auto.pipeline_args(cores=4, data_bytes=large) == [
        "--direct_num_workers=4",
        "--direct_running_mode=multi_processing",
    ]
    assert auto.pipeline_args(cores=2)[1] == "--direct_running_mode=multi_processing"
    with pytest.raises(ConfigError, match="needs --region=... for runner DataflowRunner"):
        config_lib.load_config(
            _write(
                tmp_path,
                BOOKS + "beam: {runner: DataflowRunner, extra_args: "
                "['--project=p', '--temp_location=gs://b/tmp']}\n",
            )
        )
    flink = config_lib.load_config(
        _write(
            tmp_path, BOOKS + "beam: {runner: FlinkRunner, extra_args: ['--flink_master=h:8081']}\n"
        )
    )
    assert flink.beam.pipeline_args() == ["--runner=FlinkRunner", "--flink_master=h:8081"]


@pytest.mark.parametrize(
    "task, model, metric",
    [
        ("retrieval", "two_tower", "recall"),
        ("ranking", "deepfm", "ndcg"),
        ("sequential", "gru4rec", "hit_rate"),
    ],
)
def test_auto_model_and_metric_follow_the_task(tmp_path, task, model, metric):
    text = BOOKS.replace("retrieval", task).replace("method: random", "method: temporal")
    config = config_lib.load_config(_write(tmp_path, text))
    assert (config.model_name, config.eval_metric) == (model, metric)


def test_two_stage_reads_the_ranker_settings(tmp_path):
    text = "model: {name: ease, ranker: dcn, rerank_depth: 50, cross_layers: 3}\n"
    config = config_lib.load_config(_write(tmp_path, BOOKS + text))
    assert (config.model.ranker, config.model.rerank_depth) == ("dcn", 50)
    assert model_registry.family("dcn").config(config.model).cross_layers == 3
    rating = BOOKS.replace("task: retrieval", "task: rating")
    with pytest.raises(ConfigError, match="'model.ranker' needs task 'retrieval' or 'ranking'"):
        config_lib.load_config(_write(tmp_path, rating + "model: {name: mf, ranker: dcn}\n"))
