"""The whole config of one pipeline, and the part of it the data steps read."""

from __future__ import annotations

import dataclasses
import os

from recsearch import model_registry
from recsearch.config.model import Model, Task, Training, Tuning
from recsearch.config.release import Evaluation, Release, Serving
from recsearch.config.runtime import Beam, Kubeflow
from recsearch.config.sources import EntitySource, Features, InteractionsSource, Split


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """One recsearch pipeline.

    Attributes:
      name: Pipeline name; also the served model's name.
      task: rating, retrieval, ranking or sequential.
      interactions: The interaction log (required).
      items: Item side table (optional).
      users: User side table (optional).
      split: Train/eval split.
      features: Transform settings.
      model: Model and hyperparameters.
      training: tf.distribute strategy.
      tuning: Hyperparameter search (the Tuner; off unless max_trials > 0).
      evaluation: Blessing rules.
      serving: Serving bundle settings.
      release: The release gate's checks and the versions kept.
      schema: A curated schema.pbtxt; when set, ImportSchemaGen replaces SchemaGen.
      beam: Beam settings.
      kubeflow: Kubeflow Pipelines settings (image, resources, endpoint).
      base_dir: Directory relative paths are resolved against (the config's).
    """

    name: str
    interactions: InteractionsSource
    task: Task = "retrieval"
    items: EntitySource | None = None
    users: EntitySource | None = None
    split: Split = dataclasses.field(default_factory=Split)
    features: Features = dataclasses.field(default_factory=Features)
    model: Model = dataclasses.field(default_factory=Model)
    training: Training = dataclasses.field(default_factory=Training)
    tuning: Tuning = dataclasses.field(default_factory=Tuning)
    evaluation: Evaluation = dataclasses.field(default_factory=Evaluation)
    serving: Serving = dataclasses.field(default_factory=Serving)
    release: Release = dataclasses.field(default_factory=Release)
    schema: str | None = None
    beam: Beam = dataclasses.field(default_factory=Beam)
    kubeflow: Kubeflow = dataclasses.field(default_factory=Kubeflow)
    base_dir: str = "."

    @property
    def model_name(self) -> str:
        """The model family, with "auto" resolved without measuring.

        The Trainer resolves "auto" by comparing candidates on the data
        (modules/selection.py); this static choice is what the Tuner tunes and
        what config checks see. Retrieval: "two_tower" when items have text or
        images, otherwise "ease"; mf for rating, deepfm for ranking, gru4rec
        for sequential.
        """
        if self.model.name != model_registry.AUTO:
            return self.model.name
        content = self.items is not None and bool(self.items.text or self.items.image)
        if self.task == "retrieval" and content:
            return model_registry.CONTENT_MODEL
        return model_registry.CANDIDATES[self.task][0].name

    @property
    def eval_metric(self) -> str:
        """The blessing metric, with "auto" resolved for the task."""
        if self.evaluation.metric != "auto":
            return self.evaluation.metric
        return {"rating": "rmse", "ranking": "ndcg", "sequential": "hit_rate"}.get(
            self.task, "recall"
        )

    def resolve(self, path: str) -> str:
        """Resolves a source path against the config's directory."""
        if "://" in path or os.path.isabs(path):
            return path
        return join_path(self.base_dir, path)


# What the data steps (RecsysExampleGen) read of a config: the sources, the split and
# the task (the pipeline's name is required, and a new name is a new pipeline anyway).
DATA_SECTIONS = ("name", "task", "interactions", "items", "users", "split", "base_dir")


def data_settings(config: PipelineConfig) -> PipelineConfig:
    """The config as the data steps read it: every other section at its default.

    ExampleGen's parameters hold this, not the whole config, so that changing
    a model, release or Kubeflow setting leaves them (and TFX's cache of
    ExampleGen, StatisticsGen, SchemaGen and Transform) as they were; a
    `features` setting (Transform's encoding) reruns Transform only. Of
    `release`, only `refit` shapes the data (the held-out split); of
    `evaluation`, only `max_users` (the eval split's users).
    """
    kept = {name: getattr(config, name) for name in DATA_SECTIONS}
    return PipelineConfig(
        **kept,
        release=Release(refit=config.release.refit),
        evaluation=Evaluation(max_users=config.evaluation.max_users),
    )


def join_path(base: str, path: str) -> str:
    """`path` under `base`, on a local disk or an object store (gs://, s3://)."""
    if "://" in path or os.path.isabs(path):
        return path
    if "://" in base:
        # normpath would fold the scheme's "//".
        return f"{base.rstrip('/')}/{path.removeprefix('./')}"
    return os.path.normpath(os.path.join(base, path))
