"""`recsearch submit` and `schedule` against a LOCAL STAND-IN of the KFP API on loopback,
and against google-cloud-aiplatform's own client up to the request it would send.

The stand-in is not Kubeflow: it answers the few endpoints kfp.Client calls
(healthz, pipelines and their versions, experiments, runs, recurring runs) and
records the requests, so the test checks what a real KFP API server would
receive.
"""

import json

import pytest
from aiohttp import web

from recsearch import testing
from recsearch.apps import cli
from recsearch.errors import RecsearchError
from recsearch.kubeflow import client, runner


class StandInKfpApi:
    """Records requests; keeps experiments in memory."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict]] = []
        self.experiments: list[dict] = []
        self.pipelines: list[dict] = []
        self.versions: list[dict] = []

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            upload = form["uploadfile"]
            body = {"query": dict(request.query), "package": upload.file.read().decode()}
        else:
            body = await request.json() if request.can_read_body else {}
        self.requests.append((request.method, path, body))
        if path.endswith("/healthz"):
            return web.json_response({"multi_user": False})
        if path.endswith("/pipelines/upload"):
            pipeline = {"pipeline_id": f"p-{len(self.pipelines) + 1}", **request.query}
            pipeline["display_name"] = request.query["name"]
            self.pipelines.append(pipeline)
            return web.json_response(pipeline)
        if path.endswith("/pipelines/upload_version"):
            version = {"pipeline_version_id": f"v-{len(self.versions) + 1}", **request.query}
            self.versions.append(version)
            return web.json_response(version)
        for kind in ("pipelines", "experiments"):
            if path.endswith(f"/{kind}") and request.method == "GET":
                found = _filtered(getattr(self, kind), request)
                return web.json_response({kind: found, "total_size": len(found)})
        if path.endswith("/experiments"):
            experiment = {"experiment_id": f"exp-{len(self.experiments) + 1}", **body}
            self.experiments.append(experiment)
            return web.json_response(experiment)
        if path.endswith("/runs"):
            return web.json_response({"run_id": "run-1", **body})
        if path.endswith("/recurringruns"):
            return web.json_response({"recurring_run_id": "recurring-1", **body})
        return web.json_response({"error": f"stand-in has no {path}"}, status=404)


def _filtered(listed: list[dict], request) -> list[dict]:
    """The entries whose display name the request's `filter` predicate asks for."""
    wanted = json.loads(request.query.get("filter", "{}"))
    predicate = wanted.get("predicates", [{}])[0]
    name = predicate.get("string_value", predicate.get("stringValue"))
    return [entry for entry in listed if entry["display_name"] == name]


@pytest.fixture(scope="module")
def kfp_api():
    api = StandInKfpApi()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api.handle)
    with testing.serving_on_loopback(app) as url:
        yield api, url


@pytest.fixture(scope="module")
def spec(sample_config, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("kfp") / "shop.json")
    return runner.compile_pipeline(
        sample_config,
        path,
        image="registry.local/recsearch@sha256:" + "0f" * 32,
        pipeline_root="gs://shop-bucket/pipelines",
        data_root="gs://shop-bucket/data",
    )


def test_submit_sends_the_pipeline_and_runtime_arguments(kfp_api, spec, capsys, tmp_path):
    api, host = kfp_api
    api.requests.clear()
    flags = "--experiment nightly --span 3 --train-steps 500 --model two_tower".split()
    code = cli.main(["submit", "--spec", spec, "--host", host, *flags])
    assert code == 0
    assert "Created run run-1 in experiment 'nightly'" in capsys.readouterr().out
    # A pipeline version first, named and described by the commit and the image digest.
    (upload,) = [b for _, p, b in api.requests if p.endswith("/pipelines/upload")]
    assert upload["query"]["name"] == "shop"
    (version,) = [b for _, p, b in api.requests if p.endswith("/upload_version")]
    job = client.read_job(spec)
    commit = job["labels"]["recsearch-commit"]
    assert version["query"]["name"].startswith(f"shop-{commit[:12]}-")
    assert "image sha256-0f0f" in version["query"]["description"]
    assert "RecsysExampleGen" in version["package"]
    runs = [body for method, path, body in api.requests if path.endswith("/runs")]
    (run,) = runs
    assert run["experiment_id"] == "exp-1"
    assert run["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "v-1"}
    assert "pipeline_spec" not in run
    arguments = run["runtime_config"]["parameters"]
    assert json.loads(arguments["range_config"]) == {
        "static_range": {"start_span_number": 3, "end_span_number": 3}
    }
    assert json.loads(arguments["train_args"])["num_steps"] == 500
    assert json.loads(arguments["trainer_config"])["model_name"] == "two_tower"
    assert run["runtime_config"]["pipeline_root"] == "gs://shop-bucket/pipelines"


def test_schedule_creates_a_recurring_run_with_a_six_field_cron(kfp_api, spec, capsys):
    api, host = kfp_api
    api.requests.clear()
    flags = ["--experiment", "nightly", "--cron", "0 3 * * *"]
    code = cli.main(["schedule", "--spec", spec, "--host", host, *flags])
    assert code == 0
    (body,) = [b for _, path, b in api.requests if path.endswith("/recurringruns")]
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert body["max_concurrency"] == "1" or body["max_concurrency"] == 1
    assert body["no_catchup"] is True
    # The pipeline uploaded by submit is found again; the schedule runs a new version of it.
    assert not [p for m, p, _ in api.requests if p.endswith("/pipelines/upload")]
    assert body["pipeline_version_reference"]["pipeline_id"] == "p-1"
    assert body["pipeline_version_reference"]["pipeline_version_id"] == "v-2"
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


@pytest.fixture()
def vertex_requests(monkeypatch):
    """google-cloud-aiplatform's own PipelineJob, stopped at the API call it would make."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform.utils import gcs_utils
    from google.cloud.aiplatform_v1.services.pipeline_service import PipelineServiceClient
    from google.cloud.aiplatform_v1.services.schedule_service import ScheduleServiceClient

    sent = []

    def create_pipeline_job(self, *, parent, pipeline_job, pipeline_job_id=None, **_):
        sent.append(("create_pipeline_job", parent, pipeline_job))
        created = type(pipeline_job)(pipeline_job)
        created.name = f"{parent}/pipelineJobs/{pipeline_job_id or 'run-1'}"
        return created

    def create_schedule(self, *, parent, schedule, **_):
        sent.append(("create_schedule", parent, schedule))
        created = type(schedule)(schedule)
        created.name = f"{parent}/schedules/1"
        return created

    def bucket_check(output_artifacts_gcs_dir=None, **_):
        sent.append(("bucket_check", output_artifacts_gcs_dir, None))

    monkeypatch.setattr(PipelineServiceClient, "create_pipeline_job", create_pipeline_job)
    monkeypatch.setattr(ScheduleServiceClient, "create_schedule", create_schedule)
    # Before the run, aiplatform checks (and creates) the root's bucket: Cloud Storage.
    monkeypatch.setattr(
        gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist", bucket_check
    )
    return sent, AnonymousCredentials()


def test_vertex_submit_and_schedule_send_the_spec_with_labels(spec, vertex_requests):
    sent, credentials = vertex_requests
    job = client.read_job(spec)
    params = client.arguments(job, span=4)
    name = client.submit_vertex(
        spec, "shop-project", "europe-west4", params, "runner@shop.iam", credentials=credentials
    )
    assert sent.pop(0)[:2] == ("bucket_check", "gs://shop-bucket/pipelines")
    (call, parent, pipeline_job) = sent[0]
    assert call == "create_pipeline_job"
    assert parent == "projects/shop-project/locations/europe-west4"
    assert name.startswith(parent + "/pipelineJobs/")
    assert pipeline_job.service_account == "runner@shop.iam"
    assert pipeline_job.runtime_config.gcs_output_directory == "gs://shop-bucket/pipelines"
    values = dict(pipeline_job.runtime_config.parameter_values)
    assert json.loads(values["range_config"])["static_range"]["start_span_number"] == 4
    assert values["data_root"] == "gs://shop-bucket/data"
    assert pipeline_job.labels["recsearch-image"].startswith("sha256-0f0f")
    assert "Trainer" in pipeline_job.pipeline_spec["root"]["dag"]["tasks"]

    schedule = client.schedule_vertex(
        spec, "shop-project", "europe-west4", "0 3 * * *", params, credentials=credentials
    )
    sent[:] = [s for s in sent if s[0] != "bucket_check"]
    (call, parent, body) = sent[1]
    assert call == "create_schedule" and schedule == f"{parent}/schedules/1"
    assert body.cron == "0 3 * * *"
    assert body.max_concurrent_run_count == 1
    assert body.create_pipeline_job_request.pipeline_job.labels["recsearch-commit"]


def test_vertex_needs_a_project_and_a_gs_root(spec, tmp_path):
    with pytest.raises(RecsearchError, match="Vertex AI needs a project: pass --project"):
        client.vertex_job(spec, None, "us-central1", {})
    job = client.read_job(spec)
    job["runtimeConfig"]["gcsOutputDirectory"] = "s3://minio/root"
    other = tmp_path / "s3.json"
    other.write_text(json.dumps(job))
    with pytest.raises(RecsearchError, match="Vertex AI needs a gs:// pipeline root"):
        client.vertex_job(str(other), "p", "us-central1", {})


def test_vertex_submit_takes_the_compiled_project_and_says_when_credentials_are_missing(
    sample_config, tmp_path, capsys, monkeypatch
):
    import dataclasses

    settings = dataclasses.replace(
        sample_config.kubeflow, target="vertex", project="shop-project", region="europe-west4"
    )
    path = runner.compile_pipeline(
        dataclasses.replace(sample_config, kubeflow=settings),
        str(tmp_path / "vertex.json"),
        image="registry.local/recsearch@sha256:" + "0f" * 32,
        pipeline_root="gs://shop-bucket/pipelines",
        data_root="gs://shop-bucket/data",
    )
    labels = client.read_job(path)["labels"]
    assert labels["recsearch-project"] == "shop-project"
    assert labels["recsearch-region"] == "europe-west4"
    # No credentials anywhere: Google's own lookup fails, and says so in one line.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-key.json"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    assert cli.main(["submit", "--spec", path]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "error: no Google Cloud credentials: run `gcloud auth application-default login`, or "
        "set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
    )
