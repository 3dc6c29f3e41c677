"""The REST server: TF Serving's `/v1/models/...` API on aiohttp, model calls on a thread pool."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import tensorflow as tf
from aiohttp import web

from recsearch import bundle
from recsearch.apps.server import protocol
from recsearch.apps.server.models import ModelNotFound, ModelRegistry
from recsearch.errors import RecsearchError

MODEL_SERVER_BINARY = "tensorflow_model_server"
_REGISTRY = web.AppKey("registry", ModelRegistry)
_POOL = web.AppKey("pool", ThreadPoolExecutor)
_MAX_BATCH = web.AppKey("max_batch", int)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _version(request: web.Request) -> int | None:
    raw = request.match_info.get("version")
    if raw is None:
        return None
    if not raw.isdigit():
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"version must be a number, got {raw!r}"}),
            content_type="application/json",
        )
    return int(raw)


def _loaded(request: web.Request):
    """The model version the path names (the latest without one).

    Raises:
      ModelNotFound: No such model or version (json_errors answers 404).
    """
    registry = request.app[_REGISTRY]
    name = request.match_info["name"]
    if name != registry.name:
        raise ModelNotFound(f"Servable not found for request: Latest({name})")
    return registry.get(_version(request))


async def status(request: web.Request) -> web.Response:
    loaded = _loaded(request)
    return web.json_response(
        {
            "model_version_status": [
                {
                    "version": str(loaded.version),
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }
    )


async def model_metadata(request: web.Request) -> web.Response:
    loaded = _loaded(request)
    return web.json_response(
        protocol.metadata(request.match_info["name"], loaded.version, loaded.signatures)
    )


async def predict(request: web.Request) -> web.Response:
    loaded = _loaded(request)
    body = await request.read()
    try:
        name, arrays, rows = protocol.parse_predict(
            body, loaded.signatures, request.app[_MAX_BATCH]
        )
    except protocol.BadRequest as e:
        return _error(400, str(e))
    function = loaded.signatures[name].function

    def call() -> dict[str, np.ndarray]:
        tensors = {k: tf.constant(v) for k, v in arrays.items()}
        return {k: v.numpy() for k, v in function(**tensors).items()}

    try:
        outputs = await asyncio.get_running_loop().run_in_executor(request.app[_POOL], call)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
        return _error(400, _first_line(e))
    if name == "recommend":
        # Which users were unknown and got the popularity (or the model's) fallback.
        users = [u.decode("utf-8", "replace") for u in arrays["user_id"]]
        known = bundle.known_users(loaded.path, users)
        outputs["fallback"] = np.array([not k for k in known])
    return web.json_response(protocol.format_outputs(outputs, rows))


_NOISE = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "[[")


def _first_line(error: Exception) -> str:
    """The op's own message of a model error ("Feature: event ... could not be found"), with
    the op named, rather than TensorFlow's "Graph execution error:" header."""
    text = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(_NOISE)]
    node = next((line for line in lines if line.startswith("Detected at node")), "")
    op = node.removeprefix("Detected at node ").split(" defined at")[0]
    if not useful:
        return lines[0] if lines else type(error).__name__
    return useful[0] + (f" (in {op})" if op else "")


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Every error answer is JSON, as TF Serving's: unknown paths, methods, oversized bodies,
    unknown models and versions."""
    try:
        return await handler(request)
    except ModelNotFound as error:
        return _error(404, str(error))
    except web.HTTPException as error:
        if error.content_type == "application/json" or error.status < 400:
            raise
        return _error(error.status, error.reason + (f": {error.text}" if error.text else ""))


async def unsupported_method(request: web.Request) -> web.Response:
    """:classify and :regress need classification or regression signatures, which bundles lack."""
    loaded = _loaded(request)
    method = request.path.rsplit(":", 1)[-1]
    return _error(
        400,
        f"this model has no {method} signature; use :predict with one of "
        f"{', '.join(sorted(loaded.signatures))}",
    )


def make_app(registry: ModelRegistry, max_batch: int = 1000, threads: int = 4) -> web.Application:
    """The aiohttp application serving one model."""
    app = web.Application(client_max_size=16 * 2**20, middlewares=[json_errors])
    app[_REGISTRY] = registry
    app[_POOL] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict")
    app[_MAX_BATCH] = max_batch
    name = "{name:[^/:]+}"
    version = "{version:[^/:]+}"
    app.add_routes(
        [
            web.get(f"/v1/models/{name}", status),
            web.get(f"/v1/models/{name}/versions/{version}", status),
            web.get(f"/v1/models/{name}/metadata", model_metadata),
            web.get(f"/v1/models/{name}/versions/{version}/metadata", model_metadata),
            web.post(f"/v1/models/{name}:predict", predict),
            web.post(f"/v1/models/{name}/versions/{version}:predict", predict),
            web.post(f"/v1/models/{name}:classify", unsupported_method),
            web.post(f"/v1/models/{name}:regress", unsupported_method),
            web.post(f"/v1/models/{name}/versions/{version}:classify", unsupported_method),
            web.post(f"/v1/models/{name}/versions/{version}:regress", unsupported_method),
        ]
    )

    async def shutdown(app: web.Application) -> None:
        app[_REGISTRY].stop()
        app[_POOL].shutdown(wait=False)

    app.on_shutdown.append(shutdown)
    return app


def check_servable(model_dir: str, host: str, port: int) -> None:
    """Fails fast, before any model loads: no versions to serve, or the port is taken.

    Raises:
      RecsearchError: Naming the directory or the address.
    """
    import errno
    import socket

    from recsearch import versions

    if not versions.served_versions(model_dir):
        where = "does not exist" if not os.path.isdir(model_dir) else "holds no model versions"
        raise RecsearchError(
            f"{model_dir}: {where} (a model base directory holds numbered versions, each with "
            "saved_model.pb; `recsearch run` prints the one it pushed to)"
        )
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise RecsearchError(
                f"{host}:{port} is already in use (another server?); choose another --port"
            ) from None
        raise RecsearchError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def serve(
    model_dir: str,
    name: str,
    port: int = 8501,
    host: str = "127.0.0.1",
    poll_seconds: float = 2.0,
    max_batch: int = 1000,
    use_binary: bool = True,
) -> None:
    """Serves `model_dir` until interrupted.

    Uses `tensorflow_model_server` when it is on PATH (and `use_binary`),
    otherwise this process, with the same REST API.
    """
    binary = shutil.which(MODEL_SERVER_BINARY) if use_binary else None
    if binary:
        logging.info("running %s", binary)
        subprocess.run(
            [
                binary,
                f"--rest_api_port={port}",
                f"--model_name={name}",
                f"--model_base_path={os.path.abspath(model_dir)}",
                f"--file_system_poll_wait_seconds={max(1, int(poll_seconds))}",
            ],
            check=True,
        )
        return
    registry = ModelRegistry(name, model_dir, poll_seconds=poll_seconds)
    registry.start()
    web.run_app(make_app(registry, max_batch=max_batch), host=host, port=port, print=None)
