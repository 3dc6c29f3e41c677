"""TF Serving's REST predict protocol: JSON requests to tensors, outputs back to JSON.

Row format:      {"signature_name": s, "instances": [{"user_id": "u1"}, ...]}
                 -> {"predictions": [{"item_ids": [...], "scores": [...]}, ...]}
Columnar format: {"signature_name": s, "inputs": {"user_id": ["u1", ...]}}
                 -> {"outputs": {"item_ids": [[...]], "scores": [[...]]}}
With a single input the instance (or the inputs value) may be the bare value;
with a single output the prediction is the bare value. Binary strings travel
as {"b64": "..."}, also as a bare single input ({"instances": [{"b64": ...}]}).
Errors are {"error": "..."}. Every answer is strict JSON: a score that is not
finite (an unknown item's) is null.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from recsearch.apps.server.models import Signature

DEFAULT_SIGNATURE = "serving_default"


class BadRequest(ValueError):
    """The request cannot be served as sent (HTTP 400)."""


def parse_predict(
    body: bytes, signatures: Mapping[str, Signature], max_batch: int
) -> tuple[str, dict[str, np.ndarray], bool]:
    """Reads a predict request.

    Returns:
      (signature name, input arrays by name, True if the request used rows).

    Raises:
      BadRequest: Malformed JSON, an unknown signature, a missing or unknown
        input, a value of the wrong type, uneven batches or too large a batch.
    """
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"malformed JSON: {e}") from e
    if not isinstance(request, dict):
        raise BadRequest("the request body must be a JSON object")
    name = request.get("signature_name", DEFAULT_SIGNATURE)
    if name not in signatures:
        known = ", ".join(sorted(signatures))
        raise BadRequest(f"unknown signature_name {name!r} (this model has: {known})")
    spec = signatures[name].inputs
    if ("instances" in request) == ("inputs" in request):
        raise BadRequest("send exactly one of 'instances' (rows) or 'inputs' (columns)")
    rows = "instances" in request
    columns = _rows_to_columns(request["instances"], spec) if rows else request["inputs"]
    if len(spec) == 1 and not isinstance(columns, dict):
        columns = {next(iter(spec)): columns}
    if not isinstance(columns, dict):
        raise BadRequest("'inputs' must map input names to values")
    unknown = sorted(set(columns) - set(spec))
    if unknown:
        raise BadRequest(f"unknown input {unknown[0]!r} for signature {name!r}")
    arrays = {}
    for input_name, tensor_spec in spec.items():
        if input_name not in columns:
            raise BadRequest(f"missing input {input_name!r} for signature {name!r}")
        arrays[input_name] = _to_array(input_name, columns[input_name], tensor_spec)
    sizes = {len(a) for a in arrays.values()}
    if len(sizes) > 1:
        raise BadRequest(f"inputs of signature {name!r} have different batch sizes {sorted(sizes)}")
    size = sizes.pop() if sizes else 0
    if size > max_batch:
        raise BadRequest(f"batch of {size} exceeds the limit of {max_batch}")
    return name, arrays, rows


def _rows_to_columns(instances: Any, spec: Mapping[str, tf.TensorSpec]) -> dict[str, list]:
    if not isinstance(instances, list):
        raise BadRequest("'instances' must be a list")
    names = list(spec)
    columns: dict[str, list] = {n: [] for n in names}
    for i, instance in enumerate(instances):
        if len(names) == 1 and (not isinstance(instance, dict) or _is_b64(instance)):
            instance = {names[0]: instance}
        if not isinstance(instance, dict):
            raise BadRequest(f"instances[{i}] must be an object with inputs {names}")
        for key in instance:
            if key not in columns:
                raise BadRequest(f"instances[{i}] has unknown input {key!r}")
        for name in names:
            if name not in instance:
                raise BadRequest(f"instances[{i}] is missing input {name!r}")
            columns[name].append(instance[name])
    return columns


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _to_array(name: str, values: Any, spec: tf.TensorSpec) -> np.ndarray:
    if not isinstance(values, list):
        raise BadRequest(f"input {name!r} must be a list (one value per example)")
    if spec.dtype == tf.string:
        return np.array([_to_bytes(name, v) for v in values], dtype=object)
    kind = "integer" if spec.dtype.is_integer else "number"
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BadRequest(f"input {name!r} expects {kind}s, got {v!r}")
        if spec.dtype.is_integer and isinstance(v, float):
            raise BadRequest(f"input {name!r} expects integers, got {v!r}")
    return np.array(values, dtype=spec.dtype.as_numpy_dtype)


def _to_bytes(name: str, value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error as e:
            raise BadRequest(f"input {name!r} has invalid base64: {e}") from e
    raise BadRequest(f"input {name!r} expects strings, got {value!r}")


def _jsonable(array: np.ndarray) -> Any:
    if array.dtype == object or array.dtype.kind == "S":
        return _decode(array.tolist())
    if array.dtype == bool:
        return array.tolist()
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        # JSON has no Infinity or NaN: a score that is not finite is null.
        return np.where(np.isfinite(array), array, None).tolist()
    return array.tolist()


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value


def format_outputs(outputs: Mapping[str, np.ndarray], rows: bool) -> dict:
    """Outputs in the request's format."""
    names = sorted(outputs)
    if rows:
        if len(names) == 1:
            return {"predictions": _jsonable(outputs[names[0]])}
        size = len(outputs[names[0]])
        per_output = {n: _jsonable(outputs[n]) for n in names}
        return {"predictions": [{n: per_output[n][i] for n in names} for i in range(size)]}
    if len(names) == 1:
        return {"outputs": _jsonable(outputs[names[0]])}
    return {"outputs": {n: _jsonable(outputs[n]) for n in names}}


def metadata(model_name: str, version: int, signatures: Mapping[str, Signature]) -> dict:
    """The `GET .../metadata` answer: signature inputs and outputs."""

    def tensor_info(spec: tf.TensorSpec) -> dict:
        if spec.shape.rank is None:
            shape = {"dim": [], "unknown_rank": True}
        else:
            dims = [{"size": str(-1 if d is None else d)} for d in spec.shape.as_list()]
            shape = {"dim": dims, "unknown_rank": False}
        return {
            "dtype": types_pb2.DataType.Name(spec.dtype.as_datatype_enum),
            "tensor_shape": shape,
            "name": spec.name or "",
        }

    defs = {
        name: {
            "inputs": {k: tensor_info(v) for k, v in sig.inputs.items()},
            "outputs": {k: tensor_info(v) for k, v in sig.outputs.items()},
            "method_name": "tensorflow/serving/predict",
        }
        for name, sig in signatures.items()
    }
    return {
        "model_spec": {"name": model_name, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": defs}},
    }
