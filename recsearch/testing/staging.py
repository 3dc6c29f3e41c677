"""The data steps and the Trainer run outside TFX on small data: for benchmarks and tests.

Raw examples come from RecsysExampleGen's own executor, transformed ones from
the real `preprocessing_fn` under tf.Transform on Beam, and `fn_args` hands
the Trainer's `run_fn` what TFX would, so what runs here is what the
pipeline runs.
"""

from __future__ import annotations

import functools
import os
import tempfile

import apache_beam as beam
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx.components.util import tfxio_utils
from tfx.types import standard_artifacts
from tfx_bsl.public import tfxio

from recsearch import config as config_lib
from recsearch.components.recsys_example_gen import executor
from recsearch.config.trainer_settings import TrainerSettings
from recsearch.data import splits
from recsearch.data.examples import read_split
from recsearch.features import FeatureSpec
from recsearch.modules import preprocessing

_TYPES = {"bytes": schema_pb2.BYTES, "float": schema_pb2.FLOAT, "int": schema_pb2.INT}


def raw_schema(
    spec: FeatureSpec, sparse: tuple[str, ...] = ("rating", "weight")
) -> schema_pb2.Schema:
    """The schema the DataGate hands Transform for these examples: one value per feature.

    Features in `sparse` may be missing (as views without a rating are, and
    catalog rows without a rating or a weight) and
    get no fixed shape.
    """
    schema = schema_pb2.Schema()
    for name, kind in spec.raw_types().items():
        feature = schema.feature.add(name=name, type=_TYPES[kind])
        if name in sparse:
            feature.value_count.min = feature.value_count.max = 1
        else:
            feature.presence.min_fraction = 1.0
            feature.shape.dim.add(size=1)
    return schema


def write_raw_examples(config: config_lib.PipelineConfig, out_dir: str) -> dict[str, int]:
    """Writes the config's data with RecsysExampleGen's executor: `Split-<name>/...gz`.

    Returns:
      The number of examples of each split.
    """
    from tfx.types import standard_component_specs

    from recsearch.components.recsys_example_gen import component

    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    executor.Executor().Do(
        {},
        {standard_component_specs.EXAMPLES_KEY: [examples]},
        component.executor_properties(config),
    )
    return {name: len(read_split(out_dir, name)) for name in splits.output_splits(config)}


def transform_sample(config: config_lib.PipelineConfig, root: str) -> tuple[str, str, str]:
    """Raw examples, a transform graph and transformed examples under `root`.

    Returns:
      (raw examples dir, transform graph dir, transformed examples dir).
    """
    raw_dir = os.path.join(root, "raw")
    graph_dir = os.path.join(root, "transform_graph")
    out_dir = os.path.join(root, "transformed")
    write_raw_examples(config, raw_dir)
    spec = FeatureSpec.from_config(config)
    schema = raw_schema(spec)
    fn = functools.partial(
        preprocessing.preprocessing_fn, custom_config={"features": spec.to_json()}
    )

    def source(split: str) -> tfxio.TFExampleRecord:
        return tfxio.TFExampleRecord(
            file_pattern=os.path.join(raw_dir, f"Split-{split}", "*"), schema=schema
        )

    analyzed = [
        s
        for s in splits.analyzed_splits(config)
        if os.path.isdir(os.path.join(raw_dir, f"Split-{s}"))
    ]
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=tempfile.mkdtemp()):
        # The splits the pipeline's Transform analyzes (the catalog for the text vocabulary).
        data = [pipeline | f"Analyze[{s}]" >> source(s).BeamSource() for s in analyzed]
        transform_fn = (
            data | "AnalyzedSplits" >> beam.Flatten(),
            source(splits.TRAIN).TensorAdapterConfig(),
        ) | tft_beam.AnalyzeDataset(fn)
        _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
        present = [
            s
            for s in (splits.TRAIN, splits.EVAL, splits.CATALOG)
            if os.path.isdir(os.path.join(raw_dir, f"Split-{s}"))
        ]
        for split in present:
            split_io = source(split)
            data = pipeline | f"Read[{split}]" >> split_io.BeamSource()
            transformed, metadata = (
                (data, split_io.TensorAdapterConfig()),
                transform_fn,
            ) | f"Transform[{split}]" >> tft_beam.TransformDataset()
            coder = tft.coders.ExampleProtoCoder(metadata.schema)
            _ = (
                transformed
                | f"Encode[{split}]" >> beam.Map(coder.encode)
                | f"Write[{split}]"
                >> beam.io.WriteToTFRecord(
                    os.path.join(out_dir, f"Split-{split}", "data"),
                    file_name_suffix=".gz",
                    compression_type=beam.io.filesystem.CompressionTypes.GZIP,
                )
            )
    # TFX's Transform also records the raw schema, which serving reads.
    metadata_io.write_metadata(
        dataset_metadata.DatasetMetadata(schema),
        os.path.join(graph_dir, tft.TFTransformOutput.RAW_METADATA_DIR),
    )
    return raw_dir, graph_dir, out_dir


def data_accessor(examples_dir: str) -> DataAccessor:
    """The DataAccessor the Trainer gets for an Examples directory."""
    examples = standard_artifacts.Examples()
    examples.uri = examples_dir
    examples.split_names = '["train", "eval"]'
    return DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=tfxio_utils.get_record_batch_factory_from_artifact([examples], []),
        data_view_decode_fn=None,
    )


def fn_args(
    config: config_lib.PipelineConfig,
    transformed_dir: str,
    transform_graph: str,
    serving_dir: str,
    run_dir: str,
) -> FnArgs:
    """FnArgs as the Trainer builds them, for calling `run_fn` directly."""
    return FnArgs(
        train_files=[os.path.join(transformed_dir, "Split-train", "*")],
        eval_files=[os.path.join(transformed_dir, "Split-eval", "*")],
        transform_graph_path=transform_graph,
        transform_output=transform_graph,
        serving_model_dir=serving_dir,
        model_run_dir=run_dir,
        data_accessor=data_accessor(transformed_dir),
        custom_config=TrainerSettings.from_config(config).to_custom_config(),
    )
