"""RecsysExampleGen: a FileBasedExampleGen whose executor joins and splits per user.

It keeps FileBasedExampleGen's driver, so `{SPAN}` patterns in the interactions
path resolve as in any TFX pipeline, and it compiles for Kubeflow Pipelines v2
(which supports custom ExampleGen executors but not custom drivers).
"""

from __future__ import annotations

import dataclasses
import glob
import os

from google.protobuf import any_pb2, wrappers_pb2
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from recsearch import config as config_lib
from recsearch.components.recsys_example_gen import executor
from recsearch.data import splits

INTERACTIONS_SPLIT = "interactions"


def pack_config(
    config: config_lib.PipelineConfig, under_input_base: bool = False
) -> example_gen_pb2.CustomConfig:
    """The config's data settings as ExampleGen's `custom_config` (JSON in a StringValue).

    Only what shapes the data (`config.data_settings`), so that a model or
    release change leaves the data steps cached.

    With `under_input_base`, the config's directory is left out: its relative
    paths are read under the run's input base (the data root a Kubeflow run
    is given), so the spec holds no path of the machine that compiled it.
    """
    config = config_lib.data_settings(config)
    if under_input_base:
        config = dataclasses.replace(config, base_dir=executor.UNDER_INPUT_BASE)
    packed = any_pb2.Any()
    packed.Pack(wrappers_pb2.StringValue(value=config_lib.to_json(config)))
    return example_gen_pb2.CustomConfig(custom_config=packed)


def split_input_path(path: str) -> tuple[str, str]:
    """Splits a path or glob into ExampleGen's input_base and a relative pattern."""
    parts = path.split("/")
    fixed = []
    for part in parts[:-1]:
        if glob.has_magic(part) or "{SPAN}" in part or "{VERSION}" in part:
            break
        fixed.append(part)
    base = "/".join(fixed) or "."
    return base, os.path.relpath(path, base) if "://" not in path else path[len(base) + 1 :]


class RecsysExampleGen(FileBasedExampleGen):
    """Emits joined interaction examples as `train` and `eval`, and the item `catalog`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, config: config_lib.PipelineConfig, range_config=None, data_root=None):
        """Creates the component.

        Args:
          config: The pipeline config; its interactions path may hold `{SPAN}`.
          range_config: Optional span range (defaults to the latest span); may
            be a RuntimeParameter.
          data_root: The directory every relative table path is read under
            (interactions, items, users), in place of the config's own; may
            be a RuntimeParameter. Without it, the interactions' directory on
            this machine.
        """
        if data_root is None:
            input_base, pattern = split_input_path(config.resolve(config.interactions.path))
        else:
            input_base, pattern = data_root, config.interactions.path
        # The split itself is per user (temporal or random) and happens in the
        # executor; the output config only names the splits.
        names = splits.output_splits(config)
        output = example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=1) for n in names]
            )
        )
        super().__init__(
            input_base=input_base,
            input_config=example_gen_pb2.Input(
                splits=[example_gen_pb2.Input.Split(name=INTERACTIONS_SPLIT, pattern=pattern)]
            ),
            output_config=output,
            custom_config=pack_config(config, under_input_base=data_root is not None),
            range_config=range_config,
        )


def executor_properties(config: config_lib.PipelineConfig) -> dict:
    """The execution properties the executor receives for `config`, as TFX passes them."""
    from tfx.utils import proto_utils

    props = dict(RecsysExampleGen(config).exec_properties)
    for key in ("input_config", "output_config", "custom_config", "range_config"):
        value = props.get(key)
        if value is not None and not isinstance(value, str):
            props[key] = proto_utils.proto_to_json(value)
    return props
