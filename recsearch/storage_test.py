"""s3:// against an S3-compatible server on loopback (moto): push, retention, rollback, baseline.

Each case runs in a subprocess, as a pipeline step would: the point is also
the process's exit status, which tensorflow-io's S3 filesystem turns into an
abort (134) unless recsearch/storage.py guards the exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.join(os.path.dirname(__file__), "..")
HOOK = os.path.join(REPO, "kubeflow", "recsearch_object_store.pth")


@pytest.fixture(scope="module")
def s3_env():
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "S3_ENDPOINT": endpoint,
        "S3_USE_HTTPS": "0",
        "S3_VERIFY_SSL": "0",
    }
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="models")
    yield env
    server.stop()


def _step(code: str, env: dict, hook: bool = True) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter, after the image's startup hook when `hook`."""
    with open(HOOK, encoding="utf-8") as f:
        startup = f.read() if hook else ""
    program = startup + "\n" + textwrap.dedent(code)
    env = {**env, "RECSEARCH_OBJECT_STORE": "s3"} if hook else env
    return subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=600
    )


def test_push_retention_rollback_and_the_served_baseline_on_s3(s3_env, tmp_path):
    done = _step(
        f"""
        import json, os
        import tensorflow as tf
        from tfx.types import standard_artifacts
        from recsearch import versions
        from recsearch.components.served_model import executor

        def model(name, marker):
            path = os.path.join({str(tmp_path)!r}, name)
            os.makedirs(os.path.join(path, "variables"), exist_ok=True)
            open(os.path.join(path, "saved_model.pb"), "wb").write(marker)
            open(os.path.join(path, "variables", "variables.index"), "wb").write(b"i")
            return path

        base = "s3://models/serving/shop"
        pushed = [
            versions.publish(model(f"m{{i}}", f"v{{i}}".encode()), base, keep=2,
                             release={{"judged_model": "s3://models/gone"}})[0]
            for i in range(3)
        ]
        kept = versions.served_versions(base)
        record = versions.read_release(f"{{base}}/{{kept[-1]}}")
        served = versions.rollback(base)
        after = versions.served_versions(base)
        aside = tf.io.gfile.listdir(f"{{base}}/.rolled_back")
        out = standard_artifacts.Model()
        out.uri = os.path.join({str(tmp_path)!r}, "baseline")
        schema = standard_artifacts.Schema()
        schema.uri = os.path.join({str(tmp_path)!r}, "schema")
        executor.Executor().Do({{}}, {{"model": [out], "previous_schema": [schema]}},
                               {{"serving_dir": base, "state_dir": "s3://models/state"}})
        graph = open(os.path.join(out.uri, "Format-Serving", "saved_model.pb"), "rb").read()
        undone = versions.rollback(base, to=kept[-1])
        restored = tf.io.gfile.GFile(f"{{base}}/{{undone}}/saved_model.pb", "rb").read()
        print(json.dumps(dict(pushed=pushed, kept=kept, record=record, served=served,
                              after=after, aside=aside, graph=graph.decode(),
                              baseline=out.get_int_custom_property("served_version"),
                              undone=undone, after_undo=versions.served_versions(base),
                              restored=restored.decode())))
        """,
        s3_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    first, second, third = result["pushed"]
    assert result["kept"] == [second, third]  # retention: the last two
    assert result["record"]["judged_model"] == "s3://models/gone"
    # Rollback without rename: the newest is copied aside, then deleted.
    assert result["served"] == second and result["after"] == [second]
    assert [a.rstrip("/") for a in result["aside"]] == [str(third)]
    # The judged twin is gone: the served version itself is the next baseline.
    assert result["baseline"] == second and result["graph"] == "v1"
    # The rollback undone: the version comes back from aside, graph and all.
    assert result["undone"] == third and result["after_undo"] == [second, third]
    assert result["restored"] == "v2"


def test_without_the_exit_guard_tensorflow_io_aborts_the_step(s3_env):
    """Why storage.py guards the exit: tensorflow/io#2039, in the locked versions."""
    probe = textwrap.dedent(
        """
        import tensorflow as tf, tensorflow_io
        print(tf.io.gfile.exists("s3://models/serving"))
        """
    )
    bare = _step(probe, s3_env, hook=False)
    # SIGABRT: -6 from subprocess, 134 from a shell or a pod.
    assert bare.returncode == -6 and "pure virtual method called" in bare.stderr
    guarded = _step(probe, s3_env)
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    # The entrypoints (absl's app.run, argparse) end through sys.exit.
    failing = _step(probe + "\nimport sys\nsys.exit(3)", s3_env)
    assert failing.returncode == 3
    crashing = _step(probe + "\nraise ValueError('step failed')", s3_env)
    assert crashing.returncode == 1 and "ValueError: step failed" in crashing.stderr
