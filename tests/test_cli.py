"""The command line and local_runner.py: bad configs fail fast with the key named."""

import os
import subprocess
import sys

from recsearch.apps import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_validate_reports_counts(sample_dir, capsys):
    assert cli.main(["validate", "--config", os.path.join(sample_dir, "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert "config and data are valid" in out and "train" in out


def test_bad_config_names_the_key_and_writes_nothing(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\ninteractions: {path: i.csv, timestamp: ts}\nmodel: {epochs: -3}\n")
    output = tmp_path / "out"
    assert cli.main(["run", "--config", str(config), "--output", str(output)]) == 2
    assert "'model.epochs' must be positive, got -3" in capsys.readouterr().err
    assert not output.exists()


def test_local_runner_is_the_run_command(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("name: x\ninteractions: {path: missing.csv, timestamp: ts}\n")
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "local_runner.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        check=False,
    )
    assert result.returncode == 2
    assert "missing.csv: no file matches this path" in result.stderr


def test_unknown_dataset(capsys):
    assert cli.main(["validate", "--dataset", "netflix"]) == 2
    assert "unknown --dataset 'netflix'" in capsys.readouterr().err


def test_recommend_takes_many_users_and_says_which_are_unknown(trained_bundle, capsys):
    base = trained_bundle.base_dir
    argv = ["recommend", "--model-dir", base, "--user", "u00001", "--user", "nobody"]
    assert cli.main([*argv, "--k", "3"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0] == "u00001:" and lines[4] == "nobody:"
    assert [line.split()[0] for line in lines[1:4]] == ["1", "2", "3"]
    assert "user 'nobody' is not in the model; these are the most popular items" in captured.err
    assert "u00001" not in captured.err
    assert cli.main([*argv, "--k", "0"]) == 2
    assert "--k must be a positive number of items, got 0" in capsys.readouterr().err
    assert cli.main([*argv, "--k", "999"]) == 2
    assert "--k 999 is more than the bundle serves per answer (10;" in capsys.readouterr().err


def test_predict_names_an_unknown_item_and_notes_an_unknown_user(trained_bundle, capsys):
    base = trained_bundle.base_dir
    argv = ["predict", "--model-dir", base]
    assert cli.main([*argv, "--user", "u00001", "--item", "no-such-item"]) == 2
    assert "item 'no-such-item' is not in the model's catalog" in capsys.readouterr().err
    assert cli.main([*argv, "--user", "nobody", "--item", "i0001"]) == 0
    captured = capsys.readouterr()
    assert "user 'nobody' is not in the model" in captured.err
    float(captured.out.strip())


def test_query_commands_match_the_bundle_signatures(trained_bundle, capsys, tmp_path):
    import json

    base = trained_bundle.base_dir
    assert cli.main(["similar", "--model-dir", base, "--item", "i0001", "--k", "4", "--json"]) == 0
    similar = json.loads(capsys.readouterr().out)
    assert similar["item_id"] == "i0001" and len(similar["items"]) == 4
    assert "i0001" not in similar["items"]
    assert cli.main(["similar", "--model-dir", base, "--item", "nothing", "--json"]) == 0
    captured = capsys.readouterr()
    assert "note: item 'nothing' is not in the model; these are the most popular items" in (
        captured.err
    )
    assert json.loads(captured.out)["known"] is False
    assert cli.main(["search", "--model-dir", base, "--text", "wireless speaker", "--k", "3"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 3 and "note" not in captured.err
    assert cli.main(["search", "--model-dir", base, "--text", "zzzqqq", "--json"]) == 0
    captured = capsys.readouterr()
    assert "note: no word of 'zzzqqq' is in the model's vocabulary" in captured.err
    assert json.loads(captured.out)["known_tokens"] == 0
    image = os.path.join(os.path.dirname(trained_bundle.transformed.config.resolve("x")), "images")
    png = sorted(os.listdir(image))[0]
    assert cli.main(["search", "--model-dir", base, "--image", os.path.join(image, png)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 10
    users = tmp_path / "users.txt"
    users.write_text("u00001\nu00002\n")
    assert cli.main(["recommend", "--model-dir", base, "--users-file", str(users), "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert [a["user_id"] for a in answers] == ["u00001", "u00002"]
    assert all(a["known"] and len(a["items"]) == 10 for a in answers)
    assert cli.main(["embed", "--model-dir", base, "--item", "i0001", "--item", "nope"]) == 0
    captured = capsys.readouterr()
    rows = captured.out.strip().splitlines()
    assert rows[0].startswith("i0001\t") and len(rows) == 2
    assert "item 'nope' is not in the model: its embedding is zeros" in captured.err


def test_precomputed_answers_are_the_signatures_own_and_titles_are_shown(
    trained_bundle, capsys, tmp_path
):
    """`recommend` reads the answers written at export: the same items and scores."""
    import json
    import shutil

    import numpy as np
    import tensorflow as tf

    from recsearch import bundle
    from recsearch.modules import answers

    precomputed = answers.load(trained_bundle.version_dir)
    assert precomputed is not None and precomputed.k == 10
    model = bundle.load(trained_bundle.base_dir)
    users = ["u00001", "u00007", "nobody"]
    out = model.signatures["recommend"](user_id=tf.constant(users))
    for row, user in enumerate(users):
        answer = precomputed.answer(user)
        assert answer.items == [v.decode() for v in out["item_ids"].numpy()[row]]
        np.testing.assert_allclose(answer.scores, out["scores"].numpy()[row], rtol=1e-5)
        assert answer.known == (user != "nobody")
    # Titles beside a pushed version show on every line, and in the JSON.
    copy = tmp_path / "serving"
    shutil.copytree(trained_bundle.base_dir, copy)
    (copy / "1" / bundle.ITEM_TITLES).write_text(
        json.dumps({precomputed.answer("u00001").items[0]: "Blue kettle"})
    )
    assert cli.main(["recommend", "--model-dir", str(copy), "--user", "u00001", "--k", "2"]) == 0
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first.endswith("  Blue kettle") and "kettle" not in second
    argv = ["recommend", "--model-dir", str(copy), "--user", "u00001", "--k", "2", "--json"]
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["titles"] == ["Blue kettle", None]
    # Without the answers file, the model answers the same.
    os.remove(copy / "1" / answers.ANSWERS)
    assert cli.main(argv) == 0
    from_model = json.loads(capsys.readouterr().out)
    assert from_model["items"] == precomputed.answer("u00001", 2).items


def test_recommend_from_a_cold_start_does_not_load_tensorflow(trained_bundle):
    """The precomputed path imports no TensorFlow (what made a call take seconds)."""
    import subprocess
    import sys

    code = (
        "import sys; from recsearch.apps import cli; "
        f"code = cli.main(['recommend', '--model-dir', {trained_bundle.base_dir!r}, "
        "'--user', 'u00001']); "
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.strip().splitlines()) == 10


def test_validate_and_run_name_an_eval_split_that_would_be_empty(tmp_path, capsys):
    (tmp_path / "r.csv").write_text("u,i,r\n1,3,3\n1,2,3\n2,2,4\n2,3,1\n3,4,2\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: x\ntask: rating\ninteractions: {path: r.csv, user: u, item: i, rating: r}\n"
    )
    assert cli.main(["validate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert (
        "r.csv: the eval split would be empty: no user has enough interactions to hold one out "
        "at split.eval_fraction 0.2 (the most any user has is 2; holding one out takes 3)"
    ) in err
    output = tmp_path / "out"
    assert cli.main(["run", "--config", str(config), "--output", str(output)]) == 2
    assert "the eval split would be empty" in capsys.readouterr().err
    assert not output.exists()  # checked before anything is written
    rows = "".join(f"{u},{i},{(u + i) % 5 + 1}\n" for u in range(6) for i in range(4))
    (tmp_path / "r.csv").write_text("u,i,r\n" + rows)
    assert cli.main(["validate", "--config", str(config)]) == 0


def test_serve_refuses_a_directory_without_versions_and_a_busy_port(tmp_path, capsys):
    import socket

    missing = tmp_path / "nonexistent"
    assert cli.main(["serve", "--model-dir", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: does not exist (a model base directory holds numbered versions" in err
    (tmp_path / "empty").mkdir()
    assert cli.main(["serve", "--model-dir", str(tmp_path / "empty")]) == 2
    assert "empty: holds no model versions" in capsys.readouterr().err
    version = tmp_path / "served" / "1"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"graph")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        command = ["serve", "--model-dir", str(version.parent), "--port", str(port)]
        assert cli.main(command) == 2
    out, err = capsys.readouterr()
    assert f"127.0.0.1:{port} is already in use (another server?); choose another --port" in err
    assert "Serving" not in out and "Traceback" not in err


def test_a_missing_users_file_names_its_flag(tmp_path, capsys):
    command = ["recommend", "--model-dir", str(tmp_path), "--users-file", "nofile.txt"]
    assert cli.main(command) == 2
    assert "nofile.txt: file not found (--users-file)" in capsys.readouterr().err


def test_ranked_lines_print_a_title_once_and_keep_their_columns(tmp_path, capsys):
    import argparse
    import json

    long = "The Lord of the Rings: The Fellowship of the Ring, Extended Edition (2001)"
    (tmp_path / "item_titles.json").write_text(json.dumps({"i1": "Heat (1995)", long: long}))
    answers = [{"user_id": "u", "items": ["i1", long], "scores": [2.0, 1.5], "known": True}]
    cli._print_answers(argparse.Namespace(json=False), str(tmp_path), "user_id", answers)
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("2.0000  Heat (1995)")
    assert second.count("Lord of the Rings") == 1 and second.endswith("1.5000")
    assert first.index("2.0000") == second.index("1.5000")  # the score column lines up
