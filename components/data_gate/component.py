"""DataGate component: passes the schema on only when ExampleValidator found no anomaly.

Transform reads the schema from this component, so it cannot start before the
gate has checked the anomalies, on the local runner and on Kubeflow alike.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec

from recsearch.components.data_gate import executor


class DataGateSpec(ComponentSpec):
    """Inputs: anomalies and schema. Output: the same schema, once cleared."""

    PARAMETERS = {}
    INPUTS = {
        "anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
        "schema": ChannelParameter(type=standard_artifacts.Schema),
    }
    OUTPUTS = {"checked_schema": ChannelParameter(type=standard_artifacts.Schema)}


class DataGate(base_component.BaseComponent):
    """Fails the pipeline, with a readable report, when any split has anomalies."""

    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, schema: types.BaseChannel):
        super().__init__(
            spec=DataGateSpec(
                anomalies=anomalies,
                schema=schema,
                checked_schema=types.Channel(type=standard_artifacts.Schema),
            )
        )
