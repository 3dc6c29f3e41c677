"""ReleaseGate component: one blessing for the Pusher, from every release check.

Runs on the local runner and on Kubeflow Pipelines v2 alike (InfraValidator
does not compile on KFP v2); the serving check loads the bundle in a separate
process of the same image.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from recsearch.components.release_gate import executor
from recsearch.components.release_gate.checks import GateConfig


class ReleaseGateSpec(ComponentSpec):
    PARAMETERS = {"gate_config": ExecutionParameter(type=str)}
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model, optional=True),
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
    }
    OUTPUTS = {"blessing": ChannelParameter(type=standard_artifacts.ModelBlessing)}


class ReleaseGate(base_component.BaseComponent):
    """Blesses the candidate only if the metrics, catalog, data and serving checks pass."""

    SPEC_CLASS = ReleaseGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        examples: types.BaseChannel,
        evaluation: types.BaseChannel,
        baseline_model: types.BaseChannel | None = None,
        config: GateConfig | None = None,
    ):
        super().__init__(
            spec=ReleaseGateSpec(
                model=model,
                baseline_model=baseline_model,
                examples=examples,
                evaluation=evaluation,
                gate_config=(config or GateConfig()).to_json(),
                blessing=types.Channel(type=standard_artifacts.ModelBlessing),
            )
        )
