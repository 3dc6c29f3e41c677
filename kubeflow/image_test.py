"""The Dockerfile, read for what the image must be (no Docker engine here to build it)."""

from __future__ import annotations

import os
import re

import pytest

REPO = os.path.join(os.path.dirname(__file__), "..")


def _read(name: str) -> str:
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        return f.read()


def _locked(package: str) -> str:
    found = re.search(rf"^{re.escape(package)}==(\S+)$", _read("requirements/lock.txt"), re.M)
    assert found, f"{package} is not in the lock"
    return found.group(1)


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) pairs, continuation lines joined, comments dropped."""
    text = _read("Dockerfile").replace("\\\n", " ")
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def _arg(instructions, name: str) -> str:
    for word, rest in instructions:
        if word == "ARG" and rest.startswith(f"{name}="):
            return rest.split("=", 1)[1]
    raise AssertionError(f"no ARG {name}")


def test_built_on_the_beam_sdk_image_of_the_locked_beam(instructions):
    assert _arg(instructions, "BEAM_VERSION") == _locked("apache-beam")
    stages = [rest for word, rest in instructions if word == "FROM"]
    assert stages[0] == "apache/beam_python3.10_sdk:${BEAM_VERSION} AS beam"
    # The final stage: a slim Python of the version the lock was made for, with Beam's boot.
    assert stages[-1].startswith("python:3.10-slim")
    assert ("COPY", "--from=beam /opt/apache/beam /opt/apache/beam") in instructions
    assert instructions[-1] == ("ENTRYPOINT", '["/opt/apache/beam/boot"]')


def test_runs_as_non_root_without_build_tools(instructions):
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    last_user = max(i for i, (word, _) in enumerate(instructions) if word == "USER")
    assert not [w for w, _ in instructions[last_user:] if w == "RUN"], "RUN after USER"
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    for tool in ("apt-get install", "build-essential", "gcc", "git ", "vim", "curl"):
        assert tool not in runs, f"the image installs {tool.strip()}"


def test_installs_the_lock_and_recsearch_as_a_package(instructions):
    runs = [rest for word, rest in instructions if word == "RUN"]
    assert any("pip install -r requirements/lock.txt" in r for r in runs)
    install = next(r for r in runs if "pip install --no-deps ." in r)
    # Sources removed after the install: every class path imports from site-packages.
    assert "rm -rf /pipeline/recsearch" in install and "import" in install and "system" in install
    env = " ".join(rest for word, rest in instructions if word == "ENV")
    assert "TF_USE_LEGACY_KERAS=1" in env
    # Startup hooks for every process, TFX's own executors included: the s3:// filesystem,
    # and the fix for Beam's local runner (recsearch/beam_fixes.py), copied beside the
    # installed packages where Python reads .pth files.
    for hook in ("recsearch_object_store.pth", "recsearch_beam_fixes.pth"):
        assert f"kubeflow/{hook}" in install
        assert os.path.exists(os.path.join(REPO, "kubeflow", hook))
    assert 'sysconfig.get_paths()["purelib"]' in install


def test_gpu_variant_adds_cuda_wheels_at_the_locked_tensorflow(instructions):
    assert _arg(instructions, "TENSORFLOW_VERSION") == _locked("tensorflow")
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert '"$VARIANT" = "gpu"' in runs
    assert (
        'pip install "tensorflow[and-cuda]==${TENSORFLOW_VERSION}" -c requirements/lock.txt' in runs
    )
    makefile = _read("Makefile")
    assert "docker build --build-arg VARIANT=$(VARIANT)" in makefile
