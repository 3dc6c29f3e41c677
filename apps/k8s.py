"""Kubernetes manifests to serve a pushed model base directory with TF Serving (or KServe).

The TF Serving Deployment watches the Pusher's base directory and serves the
newest version; it runs as a non-root user with resource limits and a
readiness probe on the model status endpoint. Manifests are checked by a round
trip through the official Kubernetes client's typed models, which reject a
missing required field and drop any unknown one.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import yaml

from recsearch.errors import RecsearchError

TF_SERVING_IMAGE = "tensorflow/serving:2.16.1"
REST_PORT = 8501
GRPC_PORT = 8500


@dataclasses.dataclass(frozen=True)
class ServingSpec:
    """What to serve and with how much.

    Attributes:
      name: Model name (in URLs) and the name of the Kubernetes objects.
      model_base_path: The Pusher's base directory (gs://..., s3://..., or a
        mounted path).
      image: TF Serving image (a ScaNN-enabled build to use the ScaNN companion).
      replicas: Pods behind the Service.
      cpu, memory: Requests and limits per pod.
      service_account: Service account with read access to the model bucket.
    """

    name: str
    model_base_path: str
    image: str = TF_SERVING_IMAGE
    replicas: int = 2
    cpu: str = "2"
    memory: str = "4Gi"
    service_account: str | None = None


# What the API server accepts as an object name (RFC 1123 label: DNS-1035 for a Service).
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Base paths TF Serving reads without a volume mounted into the pod.
_REMOTE = ("gs://", "s3://", "hdfs://", "http://", "https://", "pvc://")


def check_spec(spec: ServingSpec) -> None:
    """Refuses what the API server or the pod would refuse, before any manifest is written.

    Raises:
      RecsearchError: A name Kubernetes rejects, or a local base path that no
        volume brings into the pod.
    """
    if len(spec.name) > 63 or not _NAME.match(spec.name):
        raise RecsearchError(
            f"--name {spec.name!r} is not a valid Kubernetes object name: lowercase letters, "
            "digits and '-', starting with a letter and ending with a letter or digit, at most "
            f"63 characters (for example {re.sub(r'[^a-z0-9-]+', '-', spec.name.lower())!r})"
        )
    if not spec.model_base_path.startswith(_REMOTE):
        raise RecsearchError(
            f"--model-base-path {spec.model_base_path!r} is a local path, and no volume brings "
            "it into the pod: push to gs:// or s3:// (kubeflow.serving_dir), or mount the "
            "directory in the Deployment yourself and pass the path it has inside the pod"
        )


def _labels(spec: ServingSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/component": "serving"}


def _container(spec: ServingSpec) -> dict[str, Any]:
    resources = {"cpu": spec.cpu, "memory": spec.memory}
    return {
        "name": "tf-serving",
        "image": spec.image,
        "args": [
            f"--model_name={spec.name}",
            f"--model_base_path={spec.model_base_path}",
            f"--rest_api_port={REST_PORT}",
            f"--port={GRPC_PORT}",
            "--file_system_poll_wait_seconds=30",
        ],
        "ports": [
            {"name": "http", "containerPort": REST_PORT},
            {"name": "grpc", "containerPort": GRPC_PORT},
        ],
        "resources": {"requests": resources, "limits": resources},
        "readinessProbe": {
            "httpGet": {"path": f"/v1/models/{spec.name}", "port": REST_PORT},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "tcpSocket": {"port": GRPC_PORT},
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def tf_serving(spec: ServingSpec) -> list[dict[str, Any]]:
    """A Deployment and a Service for TF Serving on the model base directory."""
    labels = _labels(spec)
    pod: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000},
        "containers": [_container(spec)],
    }
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {
            "selector": labels,
            "ports": [
                {"name": "http", "port": REST_PORT, "targetPort": REST_PORT},
                {"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT},
            ],
        },
    }
    return [deployment, service]


def kserve(spec: ServingSpec) -> dict[str, Any]:
    """A KServe InferenceService with the TensorFlow predictor on the base directory."""
    container = _container(spec)
    predictor: dict[str, Any] = {
        "minReplicas": spec.replicas,
        "model": {
            "modelFormat": {"name": "tensorflow"},
            "storageUri": spec.model_base_path,
            "resources": container["resources"],
            "securityContext": container["securityContext"],
        },
    }
    if spec.service_account:
        predictor["serviceAccountName"] = spec.service_account
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": spec.name, "labels": _labels(spec)},
        "spec": {"predictor": predictor},
    }


_MODELS = {("apps/v1", "Deployment"): "V1Deployment", ("v1", "Service"): "V1Service"}


def validate(manifest: dict[str, Any]) -> None:
    """Checks a manifest against the Kubernetes API's typed models.

    Deployment and Service go through the client's V1Deployment / V1Service
    models; a KServe InferenceService is checked for its structure and its
    container parts go through V1ResourceRequirements and V1SecurityContext.

    Raises:
      RecsearchError: A field is unknown, has the wrong type, or a required
        one is missing; the message names it.
    """
    from kubernetes import client

    api = client.ApiClient()
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    if key == ("serving.kserve.io/v1beta1", "InferenceService"):
        model = manifest.get("spec", {}).get("predictor", {}).get("model", {})
        for field in ("modelFormat", "storageUri"):
            if field not in model:
                raise RecsearchError(f"InferenceService: spec.predictor.model.{field} is required")
        _round_trip(api, model.get("resources", {}), "V1ResourceRequirements", "resources")
        _round_trip(api, model.get("securityContext", {}), "V1SecurityContext", "securityContext")
        return
    if key not in _MODELS:
        raise RecsearchError(f"no schema for {key[0]} {key[1]}")
    _round_trip(api, manifest, _MODELS[key], key[1])


def _round_trip(api, data: dict, model: str, what: str) -> None:
    try:
        typed = api._ApiClient__deserialize(data, model)  # the client's own decoder
    except (ValueError, TypeError) as e:
        raise RecsearchError(f"{what}: {e}") from e
    back = api.sanitize_for_serialization(typed)
    missing = _lost(data, back, what)
    if missing:
        raise RecsearchError(f"{what}: unknown or mistyped field {missing[0]}")


def _lost(original: Any, back: Any, path: str) -> list[str]:
    """Paths present in `original` that did not survive the typed round trip."""
    if isinstance(original, dict):
        if not isinstance(back, dict):
            return [path]
        lost = []
        for k, v in original.items():
            if k not in back:
                lost.append(f"{path}.{k}")
            else:
                lost += _lost(v, back[k], f"{path}.{k}")
        return lost
    if isinstance(original, list):
        if not isinstance(back, list) or len(back) != len(original):
            return [path]
        return [
            p for i, (a, b) in enumerate(zip(original, back)) for p in _lost(a, b, f"{path}[{i}]")
        ]
    if str(original) != str(back):
        return [path]
    return []


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases (&id001 / *id001): every value written out."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(manifests: list[dict[str, Any]]) -> str:
    return yaml.dump_all(manifests, Dumper=_PlainDumper, sort_keys=False)
