"""Opening a report in headless Chromium over the DevTools protocol (used by the tests).

It loads the file, waits for the load event, and returns the section ids, the
images that failed to decode, and every script exception or console error.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PROBE = """JSON.stringify({
  sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
  images: document.images.length,
  broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length,
  title: document.title
})"""


async def _inspect(ws_url: str, url: str, timeout: float) -> dict:
    errors: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        counter = 0

        async def send(method: str, params: dict | None = None) -> dict:
            nonlocal counter
            counter += 1
            ident = counter
            await ws.send_json({"id": ident, "method": method, "params": params or {}})
            while True:
                message = json.loads((await ws.receive(timeout=timeout)).data)
                if message.get("id") == ident:
                    return message
                note(message)

        loaded = asyncio.Event()

        def note(message: dict) -> None:
            method = message.get("method")
            params = message.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                errors.append(" ".join(str(a.get("value")) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                errors.append(params["entry"].get("text", "error"))
            elif method == "Page.loadEventFired":
                loaded.set()

        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            await send(method)
        await send("Page.navigate", {"url": url})
        deadline = time.time() + timeout
        while not loaded.is_set() and time.time() < deadline:
            note(json.loads((await ws.receive(timeout=timeout)).data))
        result = await send("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True})
        page = json.loads(result["result"]["result"]["value"])
        page["errors"] = errors
        page["loaded"] = loaded.is_set()
        return page


def inspect(path: str, chromium: str | None = None, timeout: float = 60) -> dict:
    """Renders `path` in headless Chromium; returns sections, broken images and errors."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium on PATH (Debian: apt install chromium)")
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="recsearch-chromium-")
    process = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ws_url = None
        deadline = time.time() + timeout
        while ws_url is None:
            try:
                with urllib_request(f"http://127.0.0.1:{port}/json/list") as response:
                    pages = [p for p in json.load(response) if p.get("type") == "page"]
                    ws_url = pages[0]["webSocketDebuggerUrl"] if pages else None
            except OSError:
                if time.time() > deadline:
                    raise
            if ws_url is None:
                time.sleep(0.2)
        return asyncio.run(_inspect(ws_url, f"file://{path}", timeout))
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def urllib_request(url: str):
    import urllib.request

    return urllib.request.urlopen(url, timeout=5)
