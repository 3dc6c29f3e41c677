"""`create_pipeline`: the recsearch TFX pipeline as a pure function of its arguments."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from recsearch import config as config_lib
from recsearch import features as keys
from recsearch.components.atomic_pusher.component import AtomicPusher
from recsearch.components.data_gate.component import DataGate
from recsearch.components.evaluator.component import Evaluator
from recsearch.components.evaluator.eval_config import create_eval_config
from recsearch.components.recsys_example_gen.component import RecsysExampleGen
from recsearch.components.release_gate.checks import GateConfig
from recsearch.components.release_gate.component import ReleaseGate
from recsearch.components.run_report.component import RunReport
from recsearch.components.served_model.component import ServedModel
from recsearch.config.trainer_settings import TrainerSettings
from recsearch.data import splits
from recsearch.features import FeatureSpec

PREPROCESSING_FN = "recsearch.modules.preprocessing.preprocessing_fn"
RUN_FN = "recsearch.modules.trainer.run_fn"
TUNER_FN = "recsearch.modules.tuning.tuner_fn"
RELEASE_GATE = "ReleaseGate"
SCHEMA_GEN = "SchemaGen"
RUN_REPORT = "RunReport"
SERVED_MODEL = "ServedModel"
# Read afresh on every run whatever the cache says, unless the runner gives it a
# `served_key` (apps/reruns.py): what is served changes between runs while the
# node's inputs (none) and parameters do not.
NEVER_CACHED = (SERVED_MODEL,)


def state_dir(pipeline_root: str, name: str) -> str:
    """Where a pipeline keeps what the next run reads (the last run's schema)."""
    return f"{pipeline_root.rstrip('/')}/state/{name}"


def gate_config(config: config_lib.PipelineConfig) -> GateConfig:
    """The release gate's thresholds: the config's `release` section, at the eval cut-off."""
    return GateConfig(
        **config_lib.to_dict(config.release),
        top_k=config.evaluation.top_k,
        temporal=config.split.method == "temporal",
        metric=config.eval_metric,
        tolerance=config.evaluation.tolerance,
        confidence=config.evaluation.confidence,
    )


@dataclasses.dataclass(frozen=True)
class RuntimeValues:
    """Values a runner may leave open until run time (TFX RuntimeParameters on Kubeflow).

    Attributes:
      data_root: The directory every relative table path is read under.
      serving_dir: The model base directory (what is served, where to push).
      state_dir: Where a run leaves what the next one reads (its schema).
      range_config: The span to read (a RangeConfig, or its JSON).
      train_args: The Trainer's TrainArgs (num_steps 0: train by epochs).
      trainer_config: The Trainer's custom_config (model and hyperparameters).
    """

    data_root: Any = None
    serving_dir: Any = None
    state_dir: Any = None
    range_config: Any = None
    train_args: Any = None
    trainer_config: Any = None


def trainer_config(config: config_lib.PipelineConfig) -> dict:
    """The Trainer's custom_config (`TrainerSettings`): recorded in ML Metadata with every run."""
    return TrainerSettings.from_config(config).to_custom_config()


def tuner_config(config: config_lib.PipelineConfig) -> dict:
    """The Tuner's custom_config: the Trainer's, plus the search and how trials are judged."""
    return TrainerSettings.from_config(config, tuner=True).to_custom_config()


def create_pipeline(
    config: config_lib.PipelineConfig,
    pipeline_root: str,
    serving_dir: str,
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    beam_pipeline_args: Sequence[str] = (),
    enable_cache: bool = True,
    range_config: tfx.proto.RangeConfig | None = None,
    runtime: RuntimeValues | None = None,
    train_only: bool = False,
    served_key: str | None = None,
) -> tfx.dsl.Pipeline:
    """Builds the pipeline.

    ExampleGen -> StatisticsGen -> SchemaGen (or ImportSchemaGen) ->
    ExampleValidator -> DataGate -> Transform -> (Tuner, with `tuning.max_trials`) ->
    Trainer -> Evaluator (against
    the served model, see ServedModel) -> ReleaseGate (metrics, catalog, data and
    serving checks) -> Pusher (AtomicPusher: only when blessed, each version
    written atomically, the last `release.keep_versions` kept).

    Args:
      config: The pipeline config.
      pipeline_root: Where artifacts are written.
      serving_dir: Base directory the Pusher writes versions into.
      metadata_connection_config: ML Metadata connection (None on Kubeflow).
      beam_pipeline_args: Arguments of the Beam-based components.
      enable_cache: Reuse outputs of components whose inputs did not change.
      range_config: The span to read when the interactions path holds
        `{SPAN}` (default: the newest).
      runtime: Values a runner leaves open until run time (overrides the above).
      train_only: Stop after the Trainer: the data steps and the training
        with its export, nothing judged or pushed (a dry run of new data).
      served_key: ServedModel's cache key (apps/reruns.py): the same key
        reuses its last output, so the steps that read it stay cached.

    Returns:
      The TFX pipeline.
    """
    runtime = runtime or RuntimeValues()
    # The model users get now (the newest pushed version) is the baseline and
    # the warm start, and the last completed run's schema is compared with
    # this one: read from the serving and state directories, not resolved
    # from ML Metadata, so one graph runs locally, on KFP and on Vertex.
    serving_dir = runtime.serving_dir or serving_dir
    state = runtime.state_dir or state_dir(pipeline_root, config.name)
    served = ServedModel(serving_dir=serving_dir, state_dir=state, served_key=served_key).with_id(
        SERVED_MODEL
    )
    data = _data_steps(config, runtime.range_config or range_config, runtime.data_root)
    training = _training_steps(config, runtime, data, served)
    settings = dict(
        pipeline_name=config.name,
        pipeline_root=pipeline_root,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args),
    )
    components = [data.example_gen, served, *data.checks, data.transform, *training]
    if not train_only:
        trainer = training[-1]
        components += _release_steps(config, data, served, trainer, serving_dir, state)
    return tfx.dsl.Pipeline(components=components, **settings)


@dataclasses.dataclass(frozen=True)
class _DataSteps:
    """The steps from the files to the transformed examples."""

    example_gen: Any
    statistics_gen: Any
    schema_gen: Any
    example_validator: Any
    data_gate: Any
    transform: Any

    @property
    def checks(self) -> list:
        return [self.statistics_gen, self.schema_gen, self.example_validator, self.data_gate]


def _data_steps(config: config_lib.PipelineConfig, range_config, data_root) -> _DataSteps:
    """ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator -> DataGate -> Transform."""
    example_gen = RecsysExampleGen(config, range_config=range_config, data_root=data_root)
    # The held-out rows are a superset of eval, kept only for the refit.
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], exclude_splits=[splits.HELDOUT]
    )
    # The catalog split holds items with placeholder interaction fields; the
    # schema describes interactions, so the catalog is neither inferred from
    # nor validated against it (its rows were checked when read).
    if config.schema:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=config.resolve(config.schema))
    else:
        schema_gen = tfx.components.SchemaGen(
            statistics=statistics_gen.outputs["statistics"],
            infer_feature_shape=True,
            exclude_splits=[splits.CATALOG],
        )
    schema_gen = schema_gen.with_id(SCHEMA_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        exclude_splits=[splits.CATALOG],
    )
    data_gate = DataGate(
        anomalies=example_validator.outputs["anomalies"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=data_gate.outputs["checked_schema"],
        preprocessing_fn=PREPROCESSING_FN,
        splits_config=tfx.proto.SplitsConfig(
            analyze=splits.analyzed_splits(config), transform=splits.output_splits(config)
        ),
        custom_config={"features": FeatureSpec.from_config(config).to_json()},
        # StatisticsGen has described the raw data; Transform's own pre- and
        # post-transform statistics would be two more full passes nobody reads.
        disable_statistics=True,
        # The preprocessing_fn is built as one TF1 graph instead of being traced
        # as tf.functions: the same outputs (to float rounding), a quarter faster.
        force_tf_compat_v1=True,
    )
    return _DataSteps(
        example_gen, statistics_gen, schema_gen, example_validator, data_gate, transform
    )


def _training_steps(
    config: config_lib.PipelineConfig, runtime: RuntimeValues, data: _DataSteps, served
) -> list:
    """(Tuner, with `tuning.max_trials`,) then the Trainer: the Trainer comes last."""
    transform = data.transform
    tuner = None
    if config.tuning.max_trials:
        # Trials are judged on a split of the training data (modules/tuning.py);
        # the eval split is named only because the component requires it.
        tuner = tfx.components.Tuner(
            tuner_fn=TUNER_FN,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            train_args=tfx.proto.TrainArgs(splits=[splits.TRAIN]),
            eval_args=tfx.proto.EvalArgs(splits=[splits.EVAL]),
            custom_config=tuner_config(config),
        )
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=runtime.train_args or tfx.proto.TrainArgs(splits=[splits.TRAIN]),
        eval_args=tfx.proto.EvalArgs(splits=[splits.EVAL]),
        custom_config=runtime.trainer_config or trainer_config(config),
        base_model=served.outputs["model"] if config.model.warm_start else None,
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
    )
    return [*([tuner] if tuner else []), trainer]


def _release_steps(
    config: config_lib.PipelineConfig,
    data: _DataSteps,
    served,
    trainer,
    serving_dir,
    state,
) -> list:
    """Evaluator -> ReleaseGate -> Pusher (only when blessed) -> RunReport."""
    examples = data.example_gen.outputs["examples"]
    evaluator = Evaluator(
        examples=examples,
        model=trainer.outputs["model"],
        baseline_model=served.outputs["model"],
        eval_config=create_eval_config(config),
        example_splits=[splits.EVAL],
    )
    release_gate = ReleaseGate(
        model=trainer.outputs["model"],
        baseline_model=served.outputs["model"],
        examples=examples,
        evaluation=evaluator.outputs["evaluation"],
        config=gate_config(config),
    ).with_id(RELEASE_GATE)
    titled = bool(config.items and config.items.text)
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=release_gate.outputs["blessing"],
        base_directory=serving_dir,
        keep_versions=config.release.keep_versions,
        examples=examples if titled else None,
        title_feature=keys.side_feature("item", config.items.text[0]) if titled else None,
    ).with_id("Pusher")
    report = RunReport(
        config_lib.to_json(config),
        state_dir=state,
        statistics=data.statistics_gen.outputs["statistics"],
        schema=data.schema_gen.outputs["schema"],
        anomalies=data.example_validator.outputs["anomalies"],
        previous_schema=served.outputs["previous_schema"],
        examples=examples,
        model_run=trainer.outputs["model_run"],
        model=trainer.outputs["model"],
        evaluation=evaluator.outputs["evaluation"],
        blessing=release_gate.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"],
    ).with_id(RUN_REPORT)
    return [evaluator, release_gate, pusher, report]
