"""AtomicPusher component: the Pusher's contract, with atomic versions and retention."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from recsearch.components.atomic_pusher import executor


class AtomicPusherSpec(ComponentSpec):
    PARAMETERS = {
        "base_directory": ExecutionParameter(type=str),
        "keep_versions": ExecutionParameter(type=int),
        "title_feature": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "model_blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
        "examples": ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {"pushed_model": ChannelParameter(type=standard_artifacts.PushedModel)}


class AtomicPusher(base_component.BaseComponent):
    """Publishes the model to `<base_directory>/<version>/` only when it is blessed."""

    SPEC_CLASS = AtomicPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        model_blessing: types.BaseChannel,
        base_directory: str,
        keep_versions: int = 3,
        examples: types.BaseChannel | None = None,
        title_feature: str | None = None,
    ):
        """Creates the component.

        Args:
          model: The Trainer's model (its release bundle is pushed).
          model_blessing: The ReleaseGate's blessing.
          base_directory: The model base directory.
          keep_versions: How many versions to keep.
          examples: ExampleGen's examples; with `title_feature`, the catalog's
            titles are written beside the version (item_titles.json) for the CLI.
          title_feature: The catalog feature holding item titles.
        """
        super().__init__(
            spec=AtomicPusherSpec(
                model=model,
                model_blessing=model_blessing,
                examples=examples,
                title_feature=title_feature,
                base_directory=base_directory,
                keep_versions=keep_versions,
                pushed_model=types.Channel(type=standard_artifacts.PushedModel),
            )
        )
