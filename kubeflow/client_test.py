"""`recsearch submit` and `schedule` against a LOCAL STAND-IN of the KFP API on loopback.

The stand-in is not Kubeflow: it answers the few endpoints kfp.Client calls
(healthz, experiments, runs, recurring runs) and records the requests, so the
test checks what a real KFP API server would receive.
"""

import asyncio
import json
import threading

import pytest
from aiohttp import web

from recsearch import cli
from recsearch.errors import RecsearchError
from recsearch.kubeflow import client, runner


class StandInKfpApi:
    """Records requests; keeps experiments in memory."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict]] = []
        self.experiments: list[dict] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.requests.append((request.method, request.path, body))
        path = request.path
        if path.endswith("/healthz"):
            return web.json_response({"multi_user": False})
        if path.endswith("/experiments") and request.method == "GET":
            wanted = json.loads(request.query.get("filter", "{}"))
            predicate = wanted.get("predicates", [{}])[0]
            name = predicate.get("string_value", predicate.get("stringValue"))
            found = [e for e in self.experiments if e["display_name"] == name]
            return web.json_response({"experiments": found, "total_size": len(found)})
        if path.endswith("/experiments"):
            experiment = {"experiment_id": f"exp-{len(self.experiments) + 1}", **body}
            self.experiments.append(experiment)
            return web.json_response(experiment)
        if path.endswith("/runs"):
            return web.json_response({"run_id": "run-1", **body})
        if path.endswith("/recurringruns"):
            return web.json_response({"recurring_run_id": "recurring-1", **body})
        return web.json_response({"error": f"stand-in has no {path}"}, status=404)


@pytest.fixture(scope="module")
def kfp_api():
    api = StandInKfpApi()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api.handle)
    loop = asyncio.new_event_loop()
    server = web.AppRunner(app)
    loop.run_until_complete(server.setup())
    site = web.TCPSite(server, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield api, f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)


@pytest.fixture(scope="module")
def spec(sample_config, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("kfp") / "shop.json")
    return runner.compile_pipeline(sample_config, path, image="registry.local/recsearch:1")


def test_submit_sends_the_pipeline_and_runtime_arguments(kfp_api, spec, capsys, tmp_path):
    api, host = kfp_api
    api.requests.clear()
    code = cli.main(
        [
            "submit",
            "--spec",
            spec,
            "--host",
            host,
            "--experiment",
            "nightly",
            "--span",
            "3",
            "--train-steps",
            "500",
            "--model",
            "two_tower",
        ]
    )
    assert code == 0
    assert "Created run run-1 in experiment 'nightly'" in capsys.readouterr().out
    runs = [body for method, path, body in api.requests if path.endswith("/runs")]
    (run,) = runs
    assert run["experiment_id"] == "exp-1"
    tasks = run["pipeline_spec"]["root"]["dag"]["tasks"]
    assert {"RecsysExampleGen", "Trainer", "ReleaseGate", "Pusher"} <= set(tasks)
    arguments = run["runtime_config"]["parameters"]
    assert json.loads(arguments["range_config"]) == {
        "static_range": {"start_span_number": 3, "end_span_number": 3}
    }
    assert json.loads(arguments["train_args"])["num_steps"] == 500
    assert json.loads(arguments["trainer_config"])["model_name"] == "two_tower"
    assert run["runtime_config"]["pipeline_root"] == "gs://YOUR_BUCKET/recsearch"


def test_schedule_creates_a_recurring_run_with_a_six_field_cron(kfp_api, spec, capsys):
    api, host = kfp_api
    api.requests.clear()
    code = cli.main(
        [
            "schedule",
            "--spec",
            spec,
            "--host",
            host,
            "--experiment",
            "nightly",
            "--cron",
            "0 3 * * *",
        ]
    )
    assert code == 0
    (body,) = [b for _, path, b in api.requests if path.endswith("/recurringruns")]
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert body["max_concurrency"] == "1" or body["max_concurrency"] == 1
    assert body["no_catchup"] is True
    assert "Trainer" in body["pipeline_spec"]["root"]["dag"]["tasks"]
    # The experiment made by submit is found again, not created twice.
    assert not [p for m, p, _ in api.requests if m == "POST" and p.endswith("/experiments")]


def test_bad_arguments_are_clear(spec):
    job = client.read_job(spec)
    with pytest.raises(RecsearchError, match="--model must be one of"):
        client.arguments(job, model="gpt")
    with pytest.raises(RecsearchError, match="5 or 6 fields"):
        client.kfp_cron("daily")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_failures_are_one_line_without_a_traceback(spec, tmp_path, sample_dir, capsys):
    host = f"http://127.0.0.1:{_closed_port()}"  # nothing listens there
    cases = [
        (
            ["submit", "--spec", spec, "--host", host],
            f"cannot reach the Kubeflow Pipelines API at {host}",
        ),
        (
            ["schedule", "--spec", spec, "--host", host, "--cron", "every night"],
            "--cron must be a cron expression of 5 or 6 fields",
        ),
        (
            ["schedule", "--spec", spec, "--host", host, "--cron", "0 2 * * ?x!"],
            "--cron must be a cron expression",
        ),
        (
            ["schema", "--config", f"{sample_dir}/config.yaml", "--output", str(tmp_path / "none")],
            "no run under",
        ),
    ]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, err
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
