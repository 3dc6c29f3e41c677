"""The REST server against a real bundle on loopback: TF Serving's API, errors, reloads."""

import base64
import json
import os
import shutil
import time
import urllib.error
import urllib.request

import pytest
import tensorflow as tf

from recsearch import testing
from recsearch.apps.server.app import make_app
from recsearch.apps.server.models import ModelRegistry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(trained_bundle, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("served") / "shop")
    shutil.copytree(trained_bundle.version_dir, os.path.join(base, "1"))
    registry = ModelRegistry("shop", base, poll_seconds=0.2)
    registry.start()
    with testing.serving_on_loopback(make_app(registry, max_batch=50)) as url:
        yield url, base, registry
    registry.stop()


def _call(url, body=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_status_and_metadata(server):
    url, _, _ = server
    code, body = _call(f"{url}/v1/models/shop")
    assert code == 200
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
    code, body = _call(f"{url}/v1/models/shop/metadata")
    defs = body["metadata"]["signature_def"]["signature_def"]
    assert set(defs) == testing.CONTENT_BUNDLE_SIGNATURES
    assert defs["recommend"]["outputs"]["item_ids"]["tensor_shape"]["unknown_rank"] is False
    assert defs["recommend"]["inputs"]["user_id"]["dtype"] == "DT_STRING"


def test_recommend_rows_and_columns_match_the_bundle(server, trained_bundle):
    url, _, _ = server
    model = tf.saved_model.load(trained_bundle.version_dir)
    expected = model.signatures["recommend"](user_id=tf.constant(["u00001", "nobody"]))
    code, rows = _call(
        f"{url}/v1/models/shop:predict",
        {"signature_name": "recommend", "instances": [{"user_id": "u00001"}, "nobody"]},
    )
    assert code == 200
    assert [p["item_ids"] for p in rows["predictions"]] == [
        [v.decode() for v in row] for row in expected["item_ids"].numpy()
    ]
    code, columns = _call(
        f"{url}/v1/models/shop/versions/1:predict",
        {"signature_name": "recommend", "inputs": {"user_id": ["u00001", "nobody"]}},
    )
    assert code == 200
    assert columns["outputs"]["item_ids"] == [p["item_ids"] for p in rows["predictions"]]
    assert columns["outputs"]["scores"][0] == pytest.approx(rows["predictions"][0]["scores"])
    # Unknown users are marked: their items are the fallback (popularity), not a personal list.
    assert [p["fallback"] for p in rows["predictions"]] == [False, True]
    assert columns["outputs"]["fallback"] == [False, True]


def test_predict_and_serving_default_with_b64(server):
    url, _, _ = server
    code, body = _call(
        f"{url}/v1/models/shop:predict",
        {"signature_name": "predict", "inputs": {"user_id": ["u00001"], "item_id": ["i0001"]}},
    )
    assert code == 200 and len(body["outputs"]) == 1
    example = tf.train.Example()
    example.features.feature["user_id"].bytes_list.value.append(b"u00001")
    encoded = base64.b64encode(example.SerializeToString()).decode()
    code, body = _call(f"{url}/v1/models/shop:predict", {"instances": [{"b64": encoded}]})
    assert code == 400  # the example lacks the features the Transform graph needs
    # The op's own message, naming the missing feature, not "Graph execution error:".
    assert "is required but could not be found" in body["error"]
    assert "ParseExample" in body["error"]


def test_empty_batch(server):
    url, _, _ = server
    code, body = _call(
        f"{url}/v1/models/shop:predict", {"signature_name": "recommend", "instances": []}
    )
    assert (code, body) == (200, {"predictions": []})


@pytest.mark.parametrize(
    "path, payload, status, message",
    [
        ("shop:predict", b"{not json", 400, "malformed JSON"),
        (
            "shop:predict",
            {"signature_name": "nope", "instances": []},
            400,
            "unknown signature_name",
        ),
        (
            "shop:predict",
            {"signature_name": "predict", "inputs": {"user_id": ["u"]}},
            400,
            "missing input 'item_id'",
        ),
        (
            "shop:predict",
            {"signature_name": "recommend", "instances": [{"user_id": 7}]},
            400,
            "expects strings, got 7",
        ),
        (
            "shop:predict",
            {"signature_name": "recommend", "inputs": {"user_id": ["u"] * 51}},
            400,
            "batch of 51 exceeds the limit of 50",
        ),
        ("shop:predict", {"signature_name": "recommend"}, 400, "exactly one of"),
        (
            "shop/versions/9:predict",
            {"signature_name": "recommend", "instances": []},
            404,
            "Specific(shop, 9)",
        ),
        ("other:predict", {"instances": []}, 404, "Latest(other)"),
    ],
)
def test_bad_requests_get_clear_errors_and_the_server_stays_up(
    server, path, payload, status, message
):
    url, _, _ = server
    raw = payload if isinstance(payload, bytes) else None
    code, body = _call(f"{url}/v1/models/{path}", None if raw else payload, raw=raw)
    assert code == status
    assert message in body["error"]
    assert _call(f"{url}/v1/models/shop")[0] == 200


def test_new_version_is_picked_up_without_restart(server):
    url, base, _ = server
    staging = os.path.join(base, ".incoming-2")
    shutil.copytree(os.path.join(base, "1"), staging)
    os.rename(staging, os.path.join(base, "2"))
    deadline = time.time() + 30
    while time.time() < deadline:
        _, body = _call(f"{url}/v1/models/shop")
        if body["model_version_status"][0]["version"] == "2":
            break
        time.sleep(0.2)
    assert body["model_version_status"][0]["version"] == "2"
    assert _call(f"{url}/v1/models/shop/versions/1")[0] == 404


def _strict(text: bytes):
    """JSON as strict parsers read it: Infinity and NaN are refused."""

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def _post(url, raw: bytes):
    request = urllib.request.Request(url, data=raw, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _strict(response.read())
    except urllib.error.HTTPError as e:
        return e.code, _strict(e.read())


def test_tf_serving_contract_dtype_names_b64_shorthand_and_strict_json(server, trained_bundle):
    from recsearch.testing import raw_example

    url, _, _ = server
    code, body = _call(f"{url}/v1/models/shop/metadata")
    defs = body["metadata"]["signature_def"]["signature_def"]
    assert defs["recommend"]["outputs"]["scores"]["dtype"] == "DT_FLOAT"  # TF's name, as types_pb2
    # The single-input shorthand: the bare {"b64": ...} is the serving_default input.
    example = raw_example(trained_bundle.transformed.config, "u00001", "i0001")
    encoded = base64.b64encode(example).decode()
    code, body = _call(f"{url}/v1/models/shop:predict", {"instances": [{"b64": encoded}]})
    assert code == 200, body
    assert set(body["predictions"][0]) >= {"rank", "score"}
    # An unknown item gets the fallback, as an unknown user does: the most popular items,
    # with finite scores, and says so.
    items = [{"item_id": "no-such-item"}, {"item_id": "i0001"}]
    payload = {"signature_name": "similar_items", "instances": items}
    code, body = _post(f"{url}/v1/models/shop:predict", json.dumps(payload).encode())
    assert code == 200
    unknown, known = body["predictions"]
    assert unknown["known"] is False and known["known"] is True
    assert None not in unknown["scores"] and unknown["scores"] == sorted(unknown["scores"])[::-1]
    model = tf.saved_model.load(trained_bundle.version_dir)
    recommended = model.signatures["recommend"](user_id=tf.constant(["no-such-user"]))
    assert unknown["item_ids"][:3] == [i.decode() for i in recommended["item_ids"].numpy()[0][:3]]


@pytest.mark.parametrize(
    "path, raw, status, message",
    [
        ("shop:classify", b"{}", 400, "this model has no classify signature; use :predict"),
        ("shop:regress", b"{}", 400, "this model has no regress signature"),
        ("shop:explain", b"{}", 404, "Not Found"),
        ("shop:predict", b" " * (17 * 2**20), 413, "Request Entity Too Large"),
    ],
)
def test_every_error_is_json(server, path, raw, status, message):
    url, _, _ = server
    code, body = _post(f"{url}/v1/models/{path}", raw)
    assert code == status
    assert message in body["error"]


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENTED = ("README.md", "docs/serving.md")


def _documented_calls() -> list[tuple[str, str, dict, object]]:
    """Every `curl ... -d '<json>' .../v1/models/...` of the docs, with the answer shown
    on its `# ` line below (None when none is shown)."""
    import re

    calls = []
    for name in DOCUMENTED:
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            text = f.read()
        for block in re.findall(r"```bash\n(.*?)```", text, re.S):
            lines = block.replace("\\\n", " ").splitlines()
            for i, line in enumerate(lines):
                call = re.search(r"curl .*?-d '(\{.*\})'", line)
                path = re.search(r"(/v1/models/\S+)", line)
                if not (call and path):
                    continue
                shown = None
                if i + 1 < len(lines) and lines[i + 1].startswith("# {"):
                    shown = json.loads(lines[i + 1][2:].replace(", ...", ""))
                calls.append((name, path.group(1), json.loads(call.group(1)), shown))
    return calls


def _shape(value):
    """The JSON structure of an answer: keys, and the kind of each value (null is a number:
    a score that is not finite)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    if value is None or isinstance(value, bool):
        return "bool" if isinstance(value, bool) else "number"
    return "number" if isinstance(value, int | float) else type(value).__name__


def test_the_docs_json_examples_are_what_the_server_answers(server):
    url, _, _ = server
    calls = _documented_calls()
    signatures = {body.get("signature_name") for _, _, body, _ in calls}
    assert {"recommend", "predict", "similar_items", "search_text"} <= signatures
    for doc, path, body, shown in calls:
        code, answer = _call(f"{url}{path}", body)
        assert code == 200, (doc, body, answer)
        if shown is not None:
            assert _shape(answer) == _shape(shown), (doc, body, answer)
