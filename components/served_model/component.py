"""ServedModel component: what is being served, as this run's baseline, with no resolver.

The baseline of a run, and the model its Trainer warm-starts from, is the
newest version under the push destination (read from the serving directory,
where the AtomicPusher writes it), not an ML Metadata query: KFP's open-source
backend does not run TFX resolvers, and the served model is what a candidate
must beat. The schema of the last completed run comes from a state directory
under the pipeline root, written by RunReport.

The same graph runs on the local runner, on open-source KFP v2 and on Vertex.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from recsearch.components.served_model import executor


class ServedModelSpec(ComponentSpec):
    PARAMETERS = {
        "serving_dir": ExecutionParameter(type=str),
        "state_dir": ExecutionParameter(type=str),
        # What the baseline is (apps/reruns.py): the same key, the same cached output.
        "served_key": ExecutionParameter(type=str, optional=True),
    }
    INPUTS: dict = {}
    OUTPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "previous_schema": ChannelParameter(type=standard_artifacts.Schema),
    }


class ServedModel(base_component.BaseComponent):
    """Copies the served model (empty on a first run) and the last run's schema."""

    SPEC_CLASS = ServedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, serving_dir: str, state_dir: str, served_key: str | None = None):
        """Creates the component.

        Args:
          serving_dir: The model base directory (what is served).
          state_dir: Where the last completed run left its schema.
          served_key: Names the baseline this run should get (apps/reruns.py).
            TFX reuses the last output with the same key; without one the
            runner never caches this step.
        """
        super().__init__(
            spec=ServedModelSpec(
                serving_dir=serving_dir,
                state_dir=state_dir,
                served_key=served_key,
                model=types.Channel(type=standard_artifacts.Model),
                previous_schema=types.Channel(type=standard_artifacts.Schema),
            )
        )
