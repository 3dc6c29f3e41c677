"""Serving manifests: their contents, and validation by the Kubernetes client's models."""

import copy

import pytest
import yaml

from recsearch.apps import cli, k8s
from recsearch.errors import RecsearchError

SPEC = k8s.ServingSpec(name="shop", model_base_path="gs://bucket/serving/shop", replicas=3)


def test_tf_serving_deployment_and_service_validate():
    deployment, service = k8s.tf_serving(SPEC)
    k8s.validate(deployment)
    k8s.validate(service)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--model_base_path=gs://bucket/serving/shop" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/models/shop"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert container["securityContext"]["runAsNonRoot"] is True
    assert deployment["spec"]["replicas"] == 3


def test_kserve_inference_service_validates():
    service = k8s.kserve(SPEC)
    k8s.validate(service)
    assert service["spec"]["predictor"]["model"]["storageUri"] == "gs://bucket/serving/shop"


def test_validation_names_unknown_and_mistyped_fields():
    deployment, _ = k8s.tf_serving(SPEC)
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(RecsearchError, match="readinessProbes"):
        k8s.validate(unknown)
    missing = copy.deepcopy(deployment)
    del missing["spec"]["selector"]
    with pytest.raises(RecsearchError, match="selector"):
        k8s.validate(missing)
    kserve = k8s.kserve(SPEC)
    del kserve["spec"]["predictor"]["model"]["storageUri"]
    with pytest.raises(RecsearchError, match="storageUri"):
        k8s.validate(kserve)


def test_manifests_command_writes_valid_yaml(tmp_path, capsys):
    out = tmp_path / "serving.yaml"
    assert (
        cli.main(
            [
                "manifests",
                "--name",
                "shop",
                "--model-base-path",
                "gs://b/shop",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    documents = list(yaml.safe_load_all(out.read_text()))
    assert [d["kind"] for d in documents] == ["Deployment", "Service"]
    for document in documents:
        k8s.validate(document)


@pytest.mark.parametrize(
    "name, path, message",
    [
        ("Shop_Model", "gs://b/shop", "--name 'Shop_Model' is not a valid Kubernetes object name"),
        ("shop.v2", "gs://b/shop", "not a valid Kubernetes object name"),
        ("shop", "/srv/models/shop", "is a local path, and no volume brings it into the pod"),
    ],
)
def test_manifests_refuses_what_kubernetes_would(name, path, message, tmp_path, capsys):
    out = tmp_path / "serving.yaml"
    argv = ["manifests", "--name", name, "--model-base-path", path, "--output", str(out)]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_manifests_are_plain_yaml_without_anchors():
    text = k8s.dump(k8s.tf_serving(SPEC))
    assert "&id" not in text and "*id" not in text
    deployment, service = yaml.safe_load_all(text)
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
