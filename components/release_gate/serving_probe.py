"""Serving validation, run in a separate process: canned requests to every signature.

    python -m recsearch.components.release_gate.serving_probe MODEL_DIR KNOWN_USER \
        KNOWN_ITEM [--users U ...] [--budget-ms MS] [--calls N] [--wait]

Prints one JSON object: per case, whether the output shapes are right, whether a
repeated call gives the same answer, and recommend's latency (`latency.measure`:
warmed up, over several users, measured again once when over budget). With
`--wait` it reads one line from standard input before it times anything (the
budget, or "none", which replaces --budget-ms): the
gate loads the bundle and checks its answers while its own checks run, and
times it only once the parent is idle, so the figure is the model's, not the
machine's. A crash, or a bundle that cannot load, shows up as a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import recsearch  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from recsearch.components.release_gate import latency

UNKNOWN_USER = "__release_gate_unknown_user__"
UNKNOWN_ITEM = "__release_gate_cold_item__"


def _same(a: dict, b: dict) -> bool:
    return all(np.array_equal(a[k], b[k]) for k in a)


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _content_cases(signatures, known_item: str, k: int) -> dict:
    """similar_items, embed_items and (when present) search_text / search_image."""
    import tensorflow as tf

    def call(name, **inputs):
        out = signatures[name](**{key: tf.constant(v, tf.string) for key, v in inputs.items()})
        return {key: v.numpy() for key, v in out.items()}

    cases = {}
    items = [known_item, UNKNOWN_ITEM]
    similar = call("similar_items", item_id=items)
    cases["similar_items known and cold item"] = {
        "shape_ok": similar["item_ids"].shape == (2, k),
        "deterministic": _same(similar, call("similar_items", item_id=items)),
        "finite": bool(np.isfinite(similar["scores"]).all()),
        # The cold item is said to be one, and answered with the fallback.
        "known_flag": list(similar["known"]) == [True, False],
    }
    embedded = call("embed_items", item_id=items)
    cases["embed_items known and cold item"] = {
        "shape_ok": embedded["embeddings"].ndim == 2 and len(embedded["embeddings"]) == 2,
        "deterministic": _same(embedded, call("embed_items", item_id=items)),
        "finite": bool(np.isfinite(embedded["embeddings"]).all()),
    }
    queries = {
        "search_text": {"query": ["red shoes", ""]},
        "search_image": {"image": [_tiny_png()]},
    }
    for name, inputs in queries.items():
        if name not in signatures:
            continue
        found = call(name, **inputs)
        cases[name] = {
            "shape_ok": found["item_ids"].shape == (len(next(iter(inputs.values()))), k),
            "deterministic": _same(found, call(name, **inputs)),
            "finite": bool(np.isfinite(found["scores"]).all()),
        }
    return cases


def probe(
    model_dir: str,
    known_user: str,
    known_item: str,
    users: list[str] | None = None,
    budget_ms: float | None = None,
    calls: int = latency.CALLS,
    wait=None,
) -> dict:
    """Calls each signature with canned inputs and reports what came back.

    `users` are the known users `recommend` is timed over (default: `known_user`);
    `wait`, when given, is called between the checks and the timing; a number it
    returns (a line of text) is the budget, "none" none.
    """
    import tensorflow as tf

    model = tf.saved_model.load(model_dir)
    recommend, predict = model.signatures["recommend"], model.signatures["predict"]

    def run_recommend(users):
        out = recommend(user_id=tf.constant(users, tf.string))
        return {k: v.numpy() for k, v in out.items()}

    def run_predict(users, items):
        out = predict(user_id=tf.constant(users, tf.string), item_id=tf.constant(items, tf.string))
        return {k: v.numpy() for k, v in out.items()}

    cases = {}
    known = run_recommend([known_user])
    k = known["item_ids"].shape[1]
    cases["recommend known user"] = {
        "shape_ok": known["item_ids"].shape == (1, k) and known["scores"].shape == (1, k),
        "deterministic": _same(known, run_recommend([known_user])),
        "finite": bool(np.isfinite(known["scores"]).all()),
    }
    unknown = run_recommend([UNKNOWN_USER])
    cases["recommend unknown user"] = {
        "shape_ok": unknown["item_ids"].shape == (1, k),
        "deterministic": _same(unknown, run_recommend([UNKNOWN_USER])),
        "finite": bool(np.isfinite(unknown["scores"]).all()),
    }
    empty = run_recommend([])
    cases["recommend empty batch"] = {
        "shape_ok": empty["item_ids"].shape == (0, k),
        "deterministic": True,
        "finite": True,
    }
    pairs = run_predict([known_user, known_user], [known_item, UNKNOWN_ITEM])
    cases["predict known and cold item"] = {
        "shape_ok": pairs["scores"].shape == (2,),
        "deterministic": _same(
            pairs, run_predict([known_user, known_user], [known_item, UNKNOWN_ITEM])
        ),
        "finite": bool(np.isfinite(pairs["scores"][0])),
    }
    cases.update(_content_cases(model.signatures, known_item, k))
    if "recommend_at" in model.signatures:
        # A ranking stage with item ages: recommend asked at a given time.
        def run_at():
            out = model.signatures["recommend_at"](
                user_id=tf.constant([known_user]), request_time=tf.constant([asked], tf.int64)
            )
            return {name: v.numpy() for name, v in out.items()}

        asked = int(time.time())
        at = run_at()
        cases["recommend_at known user"] = {
            "shape_ok": at["item_ids"].shape == (1, k),
            "deterministic": _same(at, run_at()),
            "finite": bool(np.isfinite(at["scores"]).all()),
        }
    if wait is not None:
        said = wait().strip()
        if said:
            budget_ms = None if said == "none" else float(said)
    timed = latency.measure(
        lambda user: run_recommend([user]), users or [known_user], budget_ms, calls
    )
    return {"cases": cases, "top_k": int(k), "latency_ms": timed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("known_user")
    parser.add_argument("known_item")
    parser.add_argument("--users", nargs="*", default=None, help="users to time recommend over")
    parser.add_argument("--budget-ms", type=float, default=None)
    parser.add_argument("--calls", type=int, default=latency.CALLS)
    parser.add_argument("--wait", action="store_true", help="read a line before timing")
    args = parser.parse_args(argv)
    result = probe(
        args.model_dir,
        args.known_user,
        args.known_item,
        users=args.users,
        budget_ms=args.budget_ms,
        calls=args.calls,
        wait=sys.stdin.readline if args.wait else None,
    )
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    import os

    code = main()
    os._exit(code)
