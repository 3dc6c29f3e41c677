"""Typed pipeline configuration, loaded from one YAML file.

Every setting is a field of a frozen dataclass with a documented meaning. Loading
checks every key and type and names the offending key in the error, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from recsearch.errors import ConfigError, RecsearchError, collecting, report

Task = Literal["rating", "retrieval", "ranking", "sequential"]
# Models that score a pair with a network, not an inner product (no ANN index).
PAIR_MODELS = ("neumf", "wide_deep", "deepfm", "dcn")
Format = Literal["csv", "tsv", "parquet", "jsonl"]


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a table lives and how to read it.

    Attributes:
      path: A file path or glob. Relative paths are relative to the config file.
      format: csv, tsv, parquet or jsonl; inferred from the extension when unset.
      sep: Field separator for csv/tsv (default "," for csv, tab for tsv).
      header: Whether csv/tsv files start with a header row.
      columns: Column names for files without a header row.
      encoding: Text encoding of csv/tsv/jsonl files.
      na_values: Cells that mean "no value" besides an empty cell (compared
        after trimming spaces): such a numeric cell is missing, such an id an
        error. [] keeps only empty cells as missing.
    """

    path: str
    format: Format | None = None
    sep: str | None = None
    header: bool = True
    columns: tuple[str, ...] = ()
    encoding: str = "utf-8"
    na_values: tuple[str, ...] = ("NA", "N/A", "null")


@dataclasses.dataclass(frozen=True)
class InteractionsSource(Source):
    """The interaction log: one row per user-item event.

    Attributes:
      user: Column holding the user id.
      item: Column holding the item id.
      rating: Column holding an explicit rating (empty cells allowed).
      timestamp: Column holding the event time: unix seconds, unix
        milliseconds (told apart by magnitude) or ISO 8601; anything else
        needs `timestamp_format`.
      timestamp_format: A strptime format for text times that are not ISO
        8601, for example "%d/%m/%Y %H:%M" (day-first dates are never guessed).
      event: Column holding the event type (for example view, cart, purchase).
      session: Column holding a session id.
      weight: Column holding how much an interaction counts (a quantity, a
        dwell time): a number of at least 0, empty cells count 1. It weights
        the training loss of the models that take sample weights.
      event_weights: Event type -> how much it counts, for example
        {purchase: 1.0, cart: 0.3, view: 0.05}: the objective follows the
        outcome the shop wants. Multiplies `weight`; needs `event`, and every
        event type in the log must be listed.
      span_window: With a `{SPAN}` path, how many spans up to the selected
        one are read (1: only that span).
    """

    user: str = "user_id"
    item: str = "item_id"
    rating: str | None = None
    timestamp: str | None = None
    timestamp_format: str | None = None
    event: str | None = None
    session: str | None = None
    weight: str | None = None
    event_weights: dict[str, float] = dataclasses.field(default_factory=dict)
    span_window: int = 1


@dataclasses.dataclass(frozen=True)
class EntitySource(Source):
    """A side table of users or items, keyed by id.

    Attributes:
      id: Column holding the user or item id (joined to the interactions).
      categorical: Low-cardinality string columns, encoded with a vocabulary.
      hashed: High-cardinality string columns, encoded by feature hashing.
      numeric: Number columns, normalised to zero mean and unit variance.
      text: Free-text columns, tokenised with a vocabulary.
      image: Column holding an image file path (relative to the table's folder).
    """

    id: str = "id"
    categorical: tuple[str, ...] = ()
    hashed: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    image: str | None = None


@dataclasses.dataclass(frozen=True)
class Split:
    """How interactions are split into train and eval.

    Attributes:
      method: "temporal" holds out each user's latest interactions; "random"
        holds out a random fraction of each user's interactions; "auto"
        (the default) is temporal when the interactions have a timestamp
        column and random when they have none.
      eval_fraction: Fraction of each user's interactions held out.
      seed: Random seed of the random split.
      drop_unseen_items: Drop eval rows whose item never occurs in train.
    """

    method: Literal["auto", "temporal", "random"] = "auto"
    eval_fraction: float = 0.2
    seed: int = 42
    drop_unseen_items: bool = True


@dataclasses.dataclass(frozen=True)
class Features:
    """Feature engineering done in Transform.

    Attributes:
      min_frequency: Ids and categories seen fewer times in train map to OOV.
      oov_buckets: Number of out-of-vocabulary buckets per vocabulary.
      hash_buckets: Buckets of hashed columns and crosses.
      crosses: Pairs of categorical or hashed features crossed by hashing,
        written as "user.country" / "item.publisher".
      text_max_tokens: Tokens kept per text field.
      text_vocab_size: Largest text token vocabulary.
      image_size: Images are decoded and resized to this many pixels square.
    """

    min_frequency: int = 1
    oov_buckets: int = 1
    hash_buckets: int = 1000
    crosses: tuple[tuple[str, ...], ...] = ()
    text_max_tokens: int = 16
    text_vocab_size: int = 20000
    image_size: int = 16


@dataclasses.dataclass(frozen=True)
class Model:
    """The model the Trainer builds and its hyperparameters.

    Attributes:
      name: Model family. Retrieval: "two_tower", "ease" (closed-form
        item-item autoencoder, catalogs up to 30,000 items), "mult_vae"
        (variational autoencoder over histories) or "item2vec" (skip-gram
        item embeddings) or "wmf" (weighted matrix factorisation over
        every cell, for implicit feedback). Ratings: "mf" (matrix factorisation with biases)
        or "autorec" (I-AutoRec, an item autoencoder; embedding_dim is its
        hidden width) or "mf_autorec" (the mean of the two, trained together:
        the most accurate on MovieLens ratings). Ranking (and retrieval on small catalogs): "neumf",
        "wide_deep", "deepfm", "dcn" (DCN-v2): networks over the user's and
        the item's id, categorical and numeric fields, scored exactly over
        the catalog (no ANN index). Sequential (next item): "gru4rec"
        (recurrent) or "sasrec" (self-attention) over each user's latest
        items in time order.
        "auto" (the default) lets the Trainer measure: the candidates of the
        task (retrieval: recency-weighted ease and two_tower; ranking:
        deepfm and recency-weighted ease; sequential: gru4rec and
        recency-weighted ease; rating: mf and autorec) are trained on each
        user's earlier training interactions and judged on their latest by
        the blessing metric; the best serves `recommend`. When items have
        text or images, two_tower also answers the content signatures in
        the same bundle. See modules/selection.py.
      embedding_dim: Size of the user and item embeddings.
      hidden_layers: Widths of the dense layers on top of each tower (of
        the deep part of neumf, wide_deep, deepfm and dcn: (64, 32) if empty).
      use_side_features: Feed user/item side features to the towers.
      logq_correction: Correct in-batch negatives for item popularity.
      normalize: L2-normalise tower outputs (cosine similarity).
      text_encoder: "bag" (mean of token embeddings) or "cnn" (Kim-style 1-D CNN).
      text_dim: Token embedding width.
      word_vectors: Optional GloVe-format text file of pretrained token vectors.
      image_encoder: "cnn" (trained here) or "backbone" (pretrained, frozen).
      image_backbone: Local Keras model file for image_encoder "backbone".
      image_dim: Width of the image encoder's output.
      id_dropout: Share of training examples whose item id is hidden, so the
        item tower learns to place items from content (cold start).
      content_weight: Weight of the text->item and image->item contrastive
        losses of two_tower; above 0 (the default) the bundle gets
        search_text / search_image when items have text / images; 0 turns
        them off.
      warm_start: Start from the served model's weights, embedding rows
        remapped to this run's vocabularies.
      loss: Ranking loss of two_tower (over in-batch negatives) and of the
        pair models (over sampled negatives): softmax or approx_ndcg
        (listwise), bpr or triplet (pairwise), bce (pointwise).
      margin: Margin of the triplet loss.
      mixed_negatives: two_tower: items drawn uniformly from the catalog per
        batch and added to the in-batch negatives (0: in-batch only).
      num_negatives: neumf, wide_deep, deepfm, dcn: sampled negatives per positive.
      negative_sampling: neumf, wide_deep, deepfm, dcn: "uniform" (drawn from
        the whole catalog, as NCF trains) or "batch" (other rows' items,
        popularity-distributed, logQ-corrected).
      cross_layers: dcn: number of cross layers.
      sequence_length: gru4rec, sasrec: how many of a user's latest items they read.
      attention_blocks: sasrec: self-attention blocks.
      attention_heads: sasrec: heads per block (embedding_dim must divide by it).
      sequence_dropout: gru4rec, sasrec: dropout while training.
      ease_l2: EASE's ridge penalty lambda.
      recency_half_life: ease and item2vec: half-life, in interactions, of
        the boost a user's most recent items get in their query (0: off).
      wmf_unobserved_weight: wmf: weight w0 of the squared score of every
        cell (the zeros) against the interactions (the ones).
      autorec_hidden_dim: mf_autorec: hidden width of its AutoRec part
        (its MF part uses embedding_dim; autorec alone uses embedding_dim).
      autorec_l2: mf_autorec: L2 penalty of its AutoRec part (its MF part
        uses l2).
      vae_hidden_dim: mult_vae: width of the encoder's hidden layer
        (embedding_dim is the latent width).
      vae_dropout: mult_vae: input dropout while training.
      vae_beta: mult_vae: weight of the KL term.
      temperature: Softmax temperature of the retrieval loss.
      learning_rate: Optimizer learning rate.
      optimizer: "adam" or "adagrad".
      l2: L2 penalty on embeddings.
      batch_size: Training batch size.
      epochs: Passes over the training data.
      seed: Seed for initialisation and shuffling.
    """

    name: Literal[
        "auto",
        "two_tower",
        "ease",
        "mult_vae",
        "item2vec",
        "mf",
        "autorec",
        "mf_autorec",
        "wmf",
        "neumf",
        "wide_deep",
        "deepfm",
        "dcn",
        "gru4rec",
        "sasrec",
    ] = "auto"
    embedding_dim: int = 64
    hidden_layers: tuple[int, ...] = ()
    use_side_features: bool = True
    logq_correction: bool = True
    normalize: bool = True
    text_encoder: Literal["bag", "cnn"] = "bag"
    text_dim: int = 32
    word_vectors: str | None = None
    image_encoder: Literal["cnn", "backbone"] = "cnn"
    image_backbone: str | None = None
    image_dim: int = 32
    id_dropout: float = 0.0
    content_weight: float = 0.5
    warm_start: bool = True
    loss: Literal["softmax", "approx_ndcg", "bpr", "triplet", "bce"] = "softmax"
    margin: float = 1.0
    mixed_negatives: int = 0
    num_negatives: int = 8
    negative_sampling: Literal["uniform", "batch"] = "uniform"
    cross_layers: int = 2
    sequence_length: int = 50
    attention_blocks: int = 2
    attention_heads: int = 2
    sequence_dropout: float = 0.2
    ease_l2: float = 100.0
    recency_half_life: float = 0.0
    wmf_unobserved_weight: float = 0.1
    autorec_hidden_dim: int = 500
    autorec_l2: float = 0.001
    vae_hidden_dim: int = 600
    vae_dropout: float = 0.5
    vae_beta: float = 0.2
    temperature: float = 0.1
    learning_rate: float = 0.005
    optimizer: Literal["adam", "adagrad"] = "adam"
    l2: float = 0.0
    batch_size: int = 1024
    epochs: int = 10
    seed: int = 42


@dataclasses.dataclass(frozen=True)
class Training:
    """Where and how the Trainer runs.

    Attributes:
      strategy: tf.distribute strategy: default, mirrored (local GPUs),
        multi_worker_mirrored (workers from TF_CONFIG), tpu, or
        parameter_server (very large embedding tables).
      tpu: TPU address or name for strategy "tpu" (unset: the local TPU).
    """

    strategy: Literal["default", "mirrored", "multi_worker_mirrored", "tpu", "parameter_server"] = (
        "default"
    )
    tpu: str | None = None


@dataclasses.dataclass(frozen=True)
class Tuning:
    """Hyperparameter search before training: the TFX Tuner component with KerasTuner.

    Each trial trains the model with some values of the search space on the
    training data minus each user's latest interactions (a share
    `validation_fraction`, or a random share for a random split) and is
    judged on those by the blessing metric (-RMSE for ratings), so the eval
    split the Evaluator judges on stays unseen. The best values go to the
    Trainer, which trains on the whole training split.

    Attributes:
      max_trials: Trials to run; 0 leaves the Tuner out of the pipeline.
      algorithm: "random" (random search) or "bayesian" (Gaussian-process
        Bayesian optimisation).
      search_space: Model setting -> the values to choose from, for example
        {learning_rate: [0.001, 0.005], embedding_dim: [32, 64]}. Settings
        with a single number, word or flag can be searched.
      validation_fraction: Share of each user's training interactions the
        trials are judged on.
      seed: Seed of the search and the validation split.
    """

    max_trials: int = 0
    algorithm: Literal["random", "bayesian"] = "random"
    search_space: dict[str, Any] = dataclasses.field(default_factory=dict)
    validation_fraction: float = 0.2
    seed: int = 42


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """How the Evaluator judges and blesses a candidate.

    Attributes:
      top_k: Cut-off of the ranking metrics.
      metric: Metric that decides the blessing: recall, ndcg, mrr or hit_rate
        for retrieval (default recall); those, auc or log_loss for ranking
        (default ndcg); rmse or mae for ratings (default rmse).
      value_threshold: The candidate must reach at least this value (at most,
        for errors such as rmse) to be blessed. Unset: any value passes.
      min_improvement: The candidate must beat the served model by at
        least this much (0: at least as good). A negative value tolerates a
        small regression.
    """

    top_k: int = 10
    metric: Literal[
        "recall", "ndcg", "mrr", "hit_rate", "auc", "log_loss", "rmse", "mae", "auto"
    ] = "auto"
    value_threshold: float | None = None
    min_improvement: float = 0.0


@dataclasses.dataclass(frozen=True)
class Release:
    """The release gate's checks beyond the Evaluator's metric thresholds.

    Attributes:
      min_coverage: Least share of the catalog the top-K lists must cover.
      max_coverage_drop: Largest relative coverage loss against the last
        blessed model (0.5: at most half).
      max_popularity_bias_increase: Largest rise of the mean popularity
        percentile of recommended items against the served model.
      max_unknown_user_rate: Largest share of eval users unknown to the model.
      max_popularity_shift: Largest total-variation distance between the item
        popularity of this and the served model's training data.
      latency_budget_ms: Largest p99 latency of a one-user `recommend` call,
        measured in a fresh process.
      min_ann_recall: Least recall@K of the approximate index against exact
        top-K, when the bundle has one.
      keep_versions: Model versions kept in the serving directory.
      refit: After the candidate is judged on the held-out interactions,
        train the same configuration again on the whole log (train and
        held-out) and push that model, so serving knows every user's newest
        interactions. The blessing stays the one measured on the held-out
        split; false pushes the judged model itself.
    """

    min_coverage: float | None = None
    max_coverage_drop: float | None = 0.5
    max_popularity_bias_increase: float | None = 0.2
    max_unknown_user_rate: float | None = None
    max_popularity_shift: float | None = None
    latency_budget_ms: float | None = 250.0
    min_ann_recall: float | None = 0.9
    keep_versions: int = 5
    refit: bool = True


@dataclasses.dataclass(frozen=True)
class Serving:
    """What the serving bundle returns.

    Attributes:
      top_k: Number of items `recommend` returns.
      exclude_seen: Leave out items the user interacted with in training.
      index: "brute_force" (exact), "scann" (an approximate index in a
        companion bundle; needs a ScaNN-enabled TF Serving), or "auto"
        (ScaNN from 10,000 items when the scann package is installed).
      ann_leaves: ScaNN partitions (0: about 2 sqrt(items)).
      ann_leaves_to_search: Partitions searched per query (0: 20%).
      ann_reorder: Candidates re-scored exactly (0: at least 3,000).
    """

    top_k: int = 10
    exclude_seen: bool = True
    index: Literal["auto", "brute_force", "scann"] = "auto"
    ann_leaves: int = 0
    ann_leaves_to_search: int = 0
    ann_reorder: int = 0


@dataclasses.dataclass(frozen=True)
class Beam:
    """Beam settings for the data-parallel components.

    Attributes:
      runner: DirectRunner (local), DataflowRunner, FlinkRunner or SparkRunner.
      direct_num_workers: DirectRunner workers; 0 (the default) is one per
        core available to the process, cgroup CPU limits honoured (on
        Kubeflow: the steps' `kubeflow.components.cpu`).
      direct_running_mode: multi_processing (every DoFn is pickled and run in
        worker processes, as on a distributed runner), multi_threading,
        in_memory (one process), or auto (the default): multi_processing
        when the interaction files hold at least 16 MiB or the run is on
        Kubeflow, in_memory with one worker below that, where starting the
        workers would cost more than it saves.
      extra_args: Further Beam pipeline arguments, passed through unchanged
        (for Dataflow: --project, --region, --temp_location; for Flink:
        --flink_master; for Spark: --spark_master_url; see docs/scale.md).
    """

    runner: Literal["DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner"] = "DirectRunner"
    direct_num_workers: int = 0
    direct_running_mode: Literal["auto", "in_memory", "multi_threading", "multi_processing"] = (
        "auto"
    )
    extra_args: tuple[str, ...] = ()

    def pipeline_args(self, cores: int | None = None, data_bytes: int | None = None) -> list[str]:
        """Beam's arguments.

        Args:
          cores: DirectRunner workers when `direct_num_workers` is 0; by
            default the cores available to this process.
          data_bytes: The size of the interaction files, for the `auto`
            running mode; None (unknown, as when compiling for Kubeflow)
            counts as large.
        """
        if self.runner != "DirectRunner":
            return [f"--runner={self.runner}", *self.extra_args]
        mode = self.direct_running_mode
        workers = self.direct_num_workers or cores or available_cores()
        if mode == "auto":
            small = data_bytes is not None and data_bytes < AUTO_MULTI_PROCESSING_BYTES
            mode = "in_memory" if small else "multi_processing"
            workers = 1 if small else workers
        return [
            f"--direct_num_workers={workers}",
            f"--direct_running_mode={mode}",
            *self.extra_args,
        ]


# Below this much interaction data, `direct_running_mode: auto` runs Beam in one process.
AUTO_MULTI_PROCESSING_BYTES = 16 << 20


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for path, parse in (
        ("/sys/fs/cgroup/cpu.max", lambda t: t.split()),  # cgroup v2: "quota period"
        ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", lambda t: [t, "100000"]),  # cgroup v1
    ):
        try:
            with open(path) as f:
                quota, period = parse(f.read().strip())
        except (OSError, ValueError):
            continue
        if quota not in ("max", "-1"):
            if path.endswith("cfs_quota_us"):
                try:
                    with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                        period = f.read().strip()
                except OSError:
                    pass
            cores = min(cores or 1, max(1, math.ceil(int(quota) / int(period))))
        break
    return max(1, cores or 1)


@dataclasses.dataclass(frozen=True)
class Resources:
    """Compute requested for a pipeline step on Kubeflow.

    Attributes:
      cpu: vCPUs (0: the cluster's default).
      memory_gb: Memory in GB (0: the cluster's default).
      accelerator: Accelerator type by its Vertex name, for example
        NVIDIA_TESLA_T4 or TPU_V3 (unset: none); on open-source KFP a GPU is
        requested as the Kubernetes resource nvidia.com/gpu.
      accelerator_count: Accelerators per replica.
      replicas: Training replicas (workers); above 1 the strategy must be a
        multi-worker one.
      node_selector: Kubernetes node labels the step must run on, "key=value".
    """

    cpu: float = 0.0
    memory_gb: float = 0.0
    accelerator: str | None = None
    accelerator_count: int = 0
    replicas: int = 1
    node_selector: tuple[str, ...] = ()


KUBEFLOW_TARGETS = ("kfp", "vertex")


@dataclasses.dataclass(frozen=True)
class Kubeflow:
    """Compiling for and running on Kubeflow Pipelines v2.

    Attributes:
      target: `kfp` (open-source Kubeflow Pipelines v2) or `vertex` (Vertex
        AI Pipelines): how accelerators are named and where runs go.
      image: Container image with recsearch installed (see docs/kubeflow.md).
      gpu_image: The image's GPU variant (TensorFlow's CUDA wheels), used by
        the Trainer when it asks for a GPU (default: image with a -gpu tag).
      pipeline_root: Artifact root the cluster can write (gs://, s3://, ...).
      data_root: Where the tables are on the cluster; the config's relative
        table paths are read under it (a run may override it).
      serving_dir: Model base directory the Pusher writes to
        (default: <pipeline_root>/serving/<name>).
      host: KFP API endpoint (default: KF_PIPELINES_ENDPOINT).
      namespace: Kubernetes namespace of the runs.
      experiment: KFP experiment the runs are filed under.
      project: Google Cloud project of Vertex runs.
      region: Vertex region.
      service_account: Service account Vertex runs as (unset: the default).
      trainer: Resources of the Trainer step.
      components: Resources of every other step.
    """

    target: str = "kfp"
    image: str = "ghcr.io/example/recsearch:0.1.0"
    gpu_image: str | None = None
    pipeline_root: str = "gs://YOUR_BUCKET/recsearch"
    data_root: str | None = None
    serving_dir: str | None = None
    host: str | None = None
    namespace: str = "kubeflow"
    experiment: str = "recsearch"
    project: str | None = None
    region: str = "us-central1"
    service_account: str | None = None
    trainer: Resources = dataclasses.field(
        default_factory=lambda: Resources(cpu=4.0, memory_gb=16.0)
    )
    components: Resources = dataclasses.field(
        default_factory=lambda: Resources(cpu=2.0, memory_gb=8.0)
    )


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
        if self.model.name != "auto":
            return self.model.name
        if self.task == "retrieval":
            content = self.items is not None and bool(self.items.text or self.items.image)
            return "two_tower" if content else "ease"
        return {"rating": "mf", "ranking": "deepfm", "sequential": "gru4rec"}[self.task]

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


# What the data steps (RecsysExampleGen) read of a config.
DATA_SECTIONS = ("name", "task", "interactions", "items", "users", "split", "features", "base_dir")


def data_settings(config: PipelineConfig) -> PipelineConfig:
    """The config as the data steps read it: every other section at its default.

    ExampleGen's parameters hold this, not the whole config, so that changing
    a model, release or Kubeflow setting leaves them (and TFX's cache of
    ExampleGen, StatisticsGen, SchemaGen and Transform) as they were. Of
    `release`, only `refit` shapes the data (the held-out split).
    """
    kept = {name: getattr(config, name) for name in DATA_SECTIONS}
    return PipelineConfig(**kept, release=Release(refit=config.release.refit))


def join_path(base: str, path: str) -> str:
    """`path` under `base`, on a local disk or an object store (gs://, s3://)."""
    if "://" in path or os.path.isabs(path):
        return path
    if "://" in base:
        # normpath would fold the scheme's "//".
        return f"{base.rstrip('/')}/{path.removeprefix('./')}"
    return os.path.normpath(os.path.join(base, path))


def load_config(path: str) -> PipelineConfig:
    """Reads and checks a YAML config file.

    Raises:
      ConfigError: The file is missing, is not YAML, or has an unknown key, a
        missing key or a value of the wrong type. The message names the key.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    with open(path, encoding="utf-8") as f:
        try:
            raw = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
    base_dir = os.path.dirname(os.path.abspath(path))
    return config_from_dict(raw, base_dir=base_dir, origin=path)


def config_from_dict(raw: Any, base_dir: str = ".", origin: str = "config") -> PipelineConfig:
    """Builds a PipelineConfig from plain data (as read from YAML).

    Raises:
      ConfigError: On an unknown key, a missing key or a wrong type.
      Problems: On several of those; each is listed with its key.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {raw!r}")
    config = None
    try:
        with collecting():
            if "base_dir" in raw:
                report(ConfigError(f"{origin}: 'base_dir' is set from the config file's location"))
                raw = {k: v for k, v in raw.items() if k != "base_dir"}
            config = _build(PipelineConfig, {**raw, "base_dir": base_dir}, origin, "")
            if config is not None:
                config = _resolve_auto(config)
                _check_semantics(config, origin)
    except RecsearchError as error:
        # Whatever could be built, so the data can still be checked against it.
        error.partial_config = config
        raise
    return config


def _resolve_auto(config: PipelineConfig) -> PipelineConfig:
    """Settings left to "auto" that depend only on the config, made concrete."""
    if config.split.method != "auto":
        return config
    method = "temporal" if config.interactions and config.interactions.timestamp else "random"
    return dataclasses.replace(config, split=dataclasses.replace(config.split, method=method))


def to_dict(config: Any) -> dict[str, Any]:
    """Plain, JSON-serialisable form of any config dataclass."""
    return _plain(dataclasses.asdict(config))


def to_json(config: PipelineConfig) -> str:
    """The config as JSON, base_dir included (for component parameters)."""
    return json.dumps(to_dict(config), sort_keys=True)


def from_json(text: str) -> PipelineConfig:
    """Inverse of `to_json`."""
    raw = json.loads(text)
    return _build(PipelineConfig, raw, "config", "")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, raw: Any, origin: str, where: str) -> Any:
    """The dataclass `cls` from a mapping; every bad key is reported, not only the first.

    Returns None when a required key is missing or malformed (reported).
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: '{where}' must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    known = ", ".join(sorted(f for f in fields if f != "base_dir"))
    for name in sorted(set(raw) - set(fields)):
        report(ConfigError(f"{origin}: unknown key '{_join(where, name)}' (known keys: {known})"))
    kwargs = {}
    complete = True
    for name, field in fields.items():
        key = _join(where, name)
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if name in raw:
            try:
                kwargs[name] = _coerce(hints[name], raw[name], origin, key)
            except ConfigError as e:
                report(e)
                complete = complete and not required
        elif required:
            report(ConfigError(f"{origin}: missing required key '{key}'"))
            complete = False
    return cls(**kwargs) if complete else None


def _coerce(hint: Any, value: Any, origin: str, key: str) -> Any:
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, origin, key)
    if origin_type is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{origin}: '{key}' must be one of {choices}, got {value!r}")
        return value
    if origin_type is tuple:
        if isinstance(value, str) and args[0] is str:
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{origin}: '{key}' must be a list, got {value!r}")
        return tuple(_coerce(args[0], v, origin, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, origin, key)
    if origin_type is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{origin}: '{key}' must be a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, origin, f"{key}.{k}") for k, v in value.items()}
    if hint is Any:
        return tuple(value) if isinstance(value, list) else value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{origin}: '{key}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{origin}: '{key}' must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{origin}: '{key}' must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{origin}: '{key}' must be a non-empty string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {hint!r} for '{key}'")


# Model settings a search may not change: they name things rather than tune them.
UNTUNABLE = ("name", "seed", "word_vectors", "image_backbone", "warm_start")


def _check_search_space(config: PipelineConfig, fail) -> None:
    """Each searched setting is a scalar model setting; each value fits its type."""
    tuning = config.tuning
    if tuning.max_trials < 0:
        fail("tuning.max_trials", f"must be >= 0, got {tuning.max_trials}")
    if not 0.0 < tuning.validation_fraction < 1.0:
        fail(
            "tuning.validation_fraction",
            f"must be between 0 and 1, got {tuning.validation_fraction}",
        )
    if tuning.max_trials and not tuning.search_space:
        fail("tuning.search_space", "must name at least one model setting when max_trials > 0")
    hints = typing.get_type_hints(Model)
    for name, values in tuning.search_space.items():
        key = f"tuning.search_space.{name}"
        if name not in hints or name in UNTUNABLE:
            tunable = sorted(set(hints) - set(UNTUNABLE))
            fail(key, f"is not a setting that can be searched; choose from {tunable}")
            continue
        if typing.get_origin(hints[name]) is tuple:
            fail(key, "is a list setting; only settings with a single value can be searched")
            continue
        if not isinstance(values, tuple) or not values:
            fail(key, f"must be a non-empty list of values, got {values!r}")
            continue
        for i, value in enumerate(values):
            try:
                _coerce(hints[name], value, "", f"{key}[{i}]")
            except ConfigError as error:
                fail(f"{key}[{i}]", str(error).split("' ", 1)[1])


def _check_semantics(config: PipelineConfig, origin: str) -> None:
    def fail(key: str, message: str) -> None:
        report(ConfigError(f"{origin}: '{key}' {message}"))

    weights = config.interactions.event_weights
    if weights and not config.interactions.event:
        fail("interactions.event_weights", "needs interactions.event, the event type column")
    for event, weight in weights.items():
        if not math.isfinite(weight) or weight < 0:
            fail(f"interactions.event_weights.{event}", f"must be a number >= 0, got {weight!r}")
    if not config.name.replace("-", "").replace("_", "").isalnum():
        fail("name", f"must use letters, digits, '-' and '_' only, got {config.name!r}")
    if not 0.0 < config.split.eval_fraction < 1.0:
        fail("split.eval_fraction", f"must be between 0 and 1, got {config.split.eval_fraction}")
    if config.task == "rating" and not config.interactions.rating:
        fail("interactions.rating", "must name the rating column when task is 'rating'")
    if config.split.method == "temporal" and not config.interactions.timestamp:
        fail(
            "interactions.timestamp",
            "must name a column when split.method is 'temporal' "
            "(or leave split.method 'auto': random without a timestamp)",
        )
    if config.task == "sequential" and config.split.method != "temporal":
        fail("split.method", "must be 'temporal' when task is 'sequential' (the next item)")
    top_k_models = ("two_tower", "ease", "mult_vae", "item2vec", "wmf", *PAIR_MODELS)
    models_for_task = {
        "rating": ("mf", "autorec", "mf_autorec"),
        "retrieval": top_k_models,
        "ranking": top_k_models,
        "sequential": ("gru4rec", "sasrec", *top_k_models),
    }
    if config.model_name not in models_for_task[config.task]:
        fail(
            "model.name",
            f"{config.model_name!r} does not fit task {config.task!r}; "
            f"choose one of {models_for_task[config.task]}",
        )
    if config.model_name in PAIR_MODELS and config.serving.index == "scann":
        fail(
            "serving.index",
            f"'scann' cannot search {config.model_name!r}: it scores pairs with a network, "
            "not an inner product; use 'auto' or 'brute_force'",
        )
    top_k_metrics = ("recall", "ndcg", "mrr", "hit_rate")
    metrics_for_task = {
        "rating": ("rmse", "mae"),
        "retrieval": top_k_metrics,
        "ranking": (*top_k_metrics, "auc", "log_loss"),
        "sequential": top_k_metrics,
    }
    _check_search_space(config, fail)
    if config.model.mixed_negatives < 0:
        fail("model.mixed_negatives", f"must be >= 0, got {config.model.mixed_negatives}")
    if config.model.sequence_length <= 0:
        fail("model.sequence_length", f"must be positive, got {config.model.sequence_length}")
    if config.model.embedding_dim % max(config.model.attention_heads, 1):
        fail(
            "model.attention_heads",
            f"must divide embedding_dim {config.model.embedding_dim}, "
            f"got {config.model.attention_heads}",
        )
    if config.eval_metric not in metrics_for_task[config.task]:
        fail("evaluation.metric", f"{config.eval_metric!r} does not fit task {config.task!r}")
    positive = {
        "model.embedding_dim": config.model.embedding_dim,
        "model.batch_size": config.model.batch_size,
        "model.epochs": config.model.epochs,
        "model.learning_rate": config.model.learning_rate,
        "model.temperature": config.model.temperature,
        "model.num_negatives": config.model.num_negatives,
        "model.cross_layers": config.model.cross_layers,
        "model.autorec_hidden_dim": config.model.autorec_hidden_dim,
        "model.attention_blocks": config.model.attention_blocks,
        "model.attention_heads": config.model.attention_heads,
        "evaluation.top_k": config.evaluation.top_k,
        "serving.top_k": config.serving.top_k,
        "release.keep_versions": config.release.keep_versions,
        "interactions.span_window": config.interactions.span_window,
        "features.min_frequency": config.features.min_frequency,
        "features.oov_buckets": config.features.oov_buckets,
        "features.hash_buckets": config.features.hash_buckets,
        "features.text_max_tokens": config.features.text_max_tokens,
        "features.text_vocab_size": config.features.text_vocab_size,
        "features.image_size": config.features.image_size,
    }
    for key, value in positive.items():
        if value <= 0:
            fail(key, f"must be positive, got {value}")
    if not 0.0 <= config.model.id_dropout < 1.0:
        fail("model.id_dropout", f"must be in [0, 1), got {config.model.id_dropout}")
    if config.model.content_weight < 0:
        fail("model.content_weight", f"must not be negative, got {config.model.content_weight}")
    if config.model.image_encoder == "backbone" and not config.model.image_backbone:
        fail("model.image_backbone", "must name a Keras model file for image_encoder 'backbone'")
    for key in ("word_vectors", "image_backbone"):
        path = getattr(config.model, key)
        if path and "://" not in path and not os.path.isfile(config.resolve(path)):
            fail(f"model.{key}", f"names a file that does not exist: {config.resolve(path)}")
    if config.kubeflow.target not in KUBEFLOW_TARGETS:
        fail(
            "kubeflow.target",
            f"must be one of {list(KUBEFLOW_TARGETS)}, got {config.kubeflow.target!r}",
        )
    for pool in ("trainer", "components"):
        resources = getattr(config.kubeflow, pool)
        key = f"kubeflow.{pool}"
        if resources.replicas < 1:
            fail(f"{key}.replicas", f"must be at least 1, got {resources.replicas}")
        if resources.cpu < 0 or resources.memory_gb < 0 or resources.accelerator_count < 0:
            fail(key, "cpu, memory_gb and accelerator_count must not be negative")
        for i, label in enumerate(resources.node_selector):
            if "=" not in label:
                fail(f"{key}.node_selector[{i}]", f"must be key=value, got {label!r}")
    required = {
        "DataflowRunner": ("--project", "--region", "--temp_location"),
        "FlinkRunner": ("--flink_master",),
        "SparkRunner": ("--spark_master_url",),
    }.get(config.beam.runner, ())
    for flag in required:
        if not any(arg.startswith(flag + "=") for arg in config.beam.extra_args):
            fail("beam.extra_args", f"needs {flag}=... for runner {config.beam.runner}")
    if config.kubeflow.components.replicas != 1:
        fail("kubeflow.components.replicas", "only the trainer has replicas")
    if config.kubeflow.trainer.replicas > 1 and config.training.strategy not in (
        "multi_worker_mirrored",
        "parameter_server",
    ):
        fail(
            "kubeflow.trainer.replicas",
            "above 1 needs training.strategy " "multi_worker_mirrored or parameter_server",
        )
    for i, width in enumerate(config.model.hidden_layers):
        if width <= 0:
            fail(f"model.hidden_layers[{i}]", f"must be positive, got {width}")
    for i, cross in enumerate(config.features.crosses):
        if len(cross) != 2:
            fail(f"features.crosses[{i}]", f"must name two features, got {list(cross)}")


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def update_config_file(directory: str, overrides: dict) -> str:
    """Rewrites `directory`/config.yaml with top-level sections updated; returns its path."""
    path = os.path.join(directory, "config.yaml")
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(raw, f, sort_keys=False)
    return path
