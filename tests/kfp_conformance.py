"""A conformance runner: executes a compiled KFP v2 PipelineJob as KFP's backend does.

It is a test tool. It reads the compiled JSON the way the open-source KFP v2
backend's driver and launcher read it (backend/src/v2 in kubeflow/pipelines)
and runs every task's exact container `command` and `args` as a subprocess
with this project's Python and the environment the Dockerfile sets:

- the spec is refused where the backend refuses it: a `resolver` executor
  ("resolver not implemented yet"), a root parameter with neither a default
  nor a value from the run, a schema version other than 2.1.0;
- tasks run in the DAG's topological order;
- each executor input is built as the v2 driver builds it: parameters in
  `inputs.parameterValues` only (constants, or the root parameters from the
  spec's defaults and the run's overrides), input artifacts from upstream
  outputs with their names (the ML Metadata id, as a string), types, URIs and
  metadata, output artifacts with URIs under the run's pipeline root;
- `lifecycle.preCacheCheck` (TFX's ExampleGen driver) runs first, with the
  same executor input and output file;
- the executor output file is merged back into the output artifacts (URI and
  metadata), as the launcher does, before the tasks that follow read them.

Not modelled: caching, retries, pod specs, and object-store uploads (the
pipeline root is a local directory; the steps read and write it directly).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping

SCHEMA_VERSION = "2.1.0"
_PLACEHOLDER = re.compile(r"\{\{\$[^}]*\}\}")


class SpecRefused(Exception):
    """The KFP backend would refuse this spec (at run creation, or in the driver)."""


class TaskFailed(Exception):
    """A task's container exited non-zero."""

    def __init__(self, task: str, returncode: int, log: str):
        tail = "\n".join(log.splitlines()[-40:])
        super().__init__(f"task {task} exited with {returncode}:\n{tail}")
        self.task = task
        self.log = log


def dockerfile_env(dockerfile: str, python: str = sys.executable) -> dict[str, str]:
    """The ENV the Dockerfile's final stage sets (`KEY=value` pairs), PATH left to this venv."""
    env: dict[str, str] = {}
    with open(dockerfile, encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    stage: dict[str, str] = {}
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if not words:
            continue
        if words[0].upper() == "FROM":
            stage = {}
        elif words[0].upper() == "ENV" and len(words) == 2:
            for pair in re.findall(r'(\w+)=("[^"]*"|\S+)', words[1]):
                stage[pair[0]] = pair[1].strip('"')
    env.update({k: v for k, v in stage.items() if k != "PATH"})
    return env


def topological_order(tasks: Mapping[str, dict]) -> list[str]:
    """Task names, each after the tasks it depends on (by dependentTasks and inputs)."""

    def upstream(task: dict) -> set[str]:
        found = set(task.get("dependentTasks", []))
        for spec in task.get("inputs", {}).get("artifacts", {}).values():
            if "taskOutputArtifact" in spec:
                found.add(spec["taskOutputArtifact"]["producerTask"])
        return found

    order: list[str] = []
    waiting = {name: upstream(task) for name, task in tasks.items()}
    while waiting:
        ready = sorted(name for name, needs in waiting.items() if needs <= set(order))
        if not ready:
            raise SpecRefused(f"the DAG has a cycle among {sorted(waiting)}")
        order.extend(ready)
        for name in ready:
            del waiting[name]
    return order


@dataclasses.dataclass
class TaskRun:
    """One executed task: its executor input and the merged output artifacts."""

    name: str
    executor_input: dict
    outputs: dict[str, dict]
    log: str


class ConformanceRunner:
    """Runs one compiled PipelineJob, task by task, as a KFP v2 backend would."""

    _ids = itertools.count(1)

    def __init__(
        self,
        job: dict,
        pipeline_root: str,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        workdir: str | None = None,
    ):
        self.job = job
        self.spec = job["pipelineSpec"]
        self.pipeline_root = pipeline_root
        self.env = dict(env or {})
        self.python = python
        self.workdir = workdir or pipeline_root
        self.check()

    def check(self) -> None:
        """What the backend checks before any task runs.

        Raises:
          SpecRefused: A schema version other than 2.1.0, or a resolver.
        """
        version = self.spec.get("schemaVersion")
        if version != SCHEMA_VERSION:
            raise SpecRefused(
                f"schemaVersion {version}: TFX's entrypoint reads parameterValues, the only "
                f"field the open-source driver fills, at {SCHEMA_VERSION}"
            )
        for name, executor in self.spec["deploymentSpec"]["executors"].items():
            if "resolver" in executor:
                raise SpecRefused(f"{name}: resolver not implemented yet")

    def root_parameters(self, overrides: Mapping[str, object]) -> dict[str, object]:
        """The run's root parameters: the spec's defaults, then the run's overrides.

        The runtime config that `KubeflowV2DagRunner` writes beside the spec is
        not read: `kfp.Client` runs and recurring runs do not send it.

        Raises:
          SpecRefused: An override of an unknown parameter, or a parameter
            with no value.
        """
        declared = self.spec["root"].get("inputDefinitions", {}).get("parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise SpecRefused(f"the pipeline has no parameters {sorted(unknown)}")
        values = {}
        for name, spec in declared.items():
            if name in overrides:
                values[name] = overrides[name]
            elif "defaultValue" in spec:
                values[name] = spec["defaultValue"]
            else:
                raise SpecRefused(f"root parameter {name!r} has no default and the run gives none")
        return values

    def run(self, run_id: str, overrides: Mapping[str, object] | None = None) -> dict[str, TaskRun]:
        """Runs every task; returns them by name.

        Raises:
          SpecRefused: See `check` and `root_parameters`.
          TaskFailed: A task's container failed.
        """
        root = self.root_parameters(overrides or {})
        tasks = self.spec["root"]["dag"]["tasks"]
        done: dict[str, TaskRun] = {}
        for name in topological_order(tasks):
            done[name] = self._run_task(run_id, name, tasks[name], root, done)
        return done

    def _artifact(self, type_: dict, uri: str) -> dict:
        return {"name": str(next(self._ids)), "type": type_, "uri": uri, "metadata": {}}

    def _executor_input(
        self, run_id: str, name: str, task: dict, root: dict, done: dict[str, TaskRun]
    ) -> dict:
        component = self.spec["components"][task["componentRef"]["name"]]
        parameters = {}
        for key, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                parameters[key] = root[source["componentInputParameter"]]
            elif "runtimeValue" in source:
                parameters[key] = source["runtimeValue"]["constant"]
            else:
                raise SpecRefused(f"{name}.{key}: unsupported parameter source {source}")
        artifacts = {}
        for key, source in task.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            upstream = done[producer["producerTask"]].outputs[producer["outputArtifactKey"]]
            artifacts[key] = {"artifacts": [upstream]}
        task_dir = os.path.join(self.pipeline_root, run_id, name)
        outputs = {
            key: {"artifacts": [self._artifact(out["artifactType"], f"{task_dir}/{key}")]}
            for key, out in component.get("outputDefinitions", {}).get("artifacts", {}).items()
        }
        return {
            "inputs": {"parameterValues": parameters, "artifacts": artifacts},
            "outputs": {
                "artifacts": outputs,
                "outputFile": os.path.join(task_dir, "executor_output.json"),
            },
        }

    def _command(self, container: dict, executor_input: dict) -> list[str]:
        words = []
        for word in [*container.get("command", []), *container.get("args", [])]:
            word = word.replace("{{$}}", json.dumps(executor_input))
            left = _PLACEHOLDER.search(word)
            if left:
                raise SpecRefused(f"placeholder {left.group(0)} is not one this runner fills")
            words.append(word)
        if words and words[0] in ("python", "python3"):
            words[0] = self.python
        return words

    def _execute(self, name: str, words: list[str], container: dict) -> str:
        # The image's environment, then the step's own (`container.env` in the spec).
        step_env = {e["name"]: e["value"] for e in container.get("env", [])}
        env = {**os.environ, **self.env, **step_env}
        done = subprocess.run(
            words, cwd=self.workdir, env=env, capture_output=True, text=True, check=False
        )
        log = done.stdout + done.stderr
        if done.returncode:
            raise TaskFailed(name, done.returncode, log)
        return log

    def _run_task(
        self, run_id: str, name: str, task: dict, root: dict, done: dict[str, TaskRun]
    ) -> TaskRun:
        executor_input = self._executor_input(run_id, name, task, root, done)
        component = self.spec["components"][task["componentRef"]["name"]]
        container = self.spec["deploymentSpec"]["executors"][component["executorLabel"]][
            "container"
        ]
        output_file = executor_input["outputs"]["outputFile"]
        os.makedirs(os.path.dirname(output_file), exist_ok=True)
        log = ""
        pre = container.get("lifecycle", {}).get("preCacheCheck")
        if pre:
            log += self._execute(
                f"{name} (preCacheCheck)", self._command(pre, executor_input), container
            )
        log += self._execute(name, self._command(container, executor_input), container)
        outputs = {
            key: value["artifacts"][0]
            for key, value in executor_input["outputs"]["artifacts"].items()
        }
        if os.path.exists(output_file):
            with open(output_file, encoding="utf-8") as f:
                written = json.load(f)
            for key, artifacts in written.get("artifacts", {}).items():
                for produced in artifacts.get("artifacts", [])[:1]:
                    merged = outputs[key]
                    if produced.get("uri"):
                        merged["uri"] = produced["uri"]
                    merged["metadata"] = {**merged["metadata"], **produced.get("metadata", {})}
        return TaskRun(name, executor_input, outputs, log)
