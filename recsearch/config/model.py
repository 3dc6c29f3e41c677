"""The model sections of the config: the model and its settings, training, tuning.

The family settings (`model.embedding_dim`, ...) are declared by each family's module
(`modules/models/<family>.py`); `recsearch/model_registry.py` registers them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Task = Literal["rating", "retrieval", "ranking", "sequential"]


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
      ranker: The ranking stage of a two-stage bundle: "neumf", "wide_deep",
        "deepfm" or "dcn". The model of `name` retrieves each user's
        `rerank_depth` best candidates, the ranker orders them; it is trained
        on the retrieval model's own candidates drawn from each user's latest
        training interactions (never the eval split). Unset: one stage. Both
        stages read the shared settings here (embedding_dim, epochs, ...). See
        modules/two_stage.py.
      rerank_depth: Candidates per user the ranker reorders, N.
      freshness: With a ranker and a timestamp column, the ranker also reads
        each candidate's age at the request's time (a learned term per age
        bucket). Off by default: on MovieLens it cost 1% NDCG@10
        (docs/benchmarks.md).
      settings: The settings of the model families (`embedding_dim`, `loss`,
        `ease_l2`, ...), written flat under `model:` beside the ones above:
        each family's module declares the settings it reads, with their
        defaults and checks (`modules/models/<family>.py`, listed in
        docs/configuration.md). A setting no family of the run reads is an error.
      warm_start: Start from the served model's weights, embedding rows
        remapped to this run's vocabularies.
      warm_start_epochs: Epochs of a training that warm-started (0: `epochs`,
        the full schedule, as from scratch).
      learning_rate: Optimizer learning rate.
      optimizer: "adam", "lazy_adam" (Adam that updates only the embedding
        rows a batch looked up; for large user or item tables), "adagrad",
        or "auto" (the default): lazy_adam when the model's user and item
        tables hold 20,000 rows or more, adam below (the ranking stage of two
        stages: adam).
      batch_size: Training batch size.
      epochs: Passes over the training data.
      max_examples: Training budget in examples seen: when `epochs` passes
        over the training rows would exceed it, the Trainer runs as many
        whole passes as fit (at least one), or, when one pass exceeds it,
        `max_examples / batch_size` steps. Unset: `epochs` in full. The
        default (3M) leaves logs up to 300k rows at 10 epochs untouched,
        trains a 1M-row log for three passes (which scored better than eight
        on the 1M sample shop, docs/benchmarks.md) and a 10M-row log on 3M
        of its rows.
      seed: Seed for initialisation and shuffling.
    """

    # "auto" or a family of recsearch/model_registry.py (checked on load).
    name: str = "auto"
    # How every family is trained.
    learning_rate: float = 0.005
    optimizer: Literal["auto", "adam", "lazy_adam", "adagrad"] = "auto"
    batch_size: int = 1024
    epochs: int = 10
    max_examples: int | None = 3_000_000
    seed: int = 42
    warm_start: bool = True
    warm_start_epochs: int = 0
    # Two stages: a pair network reorders the retrieval model's first N candidates.
    ranker: str | None = None
    rerank_depth: int = 100
    freshness: bool = False
    # The families' own settings, by name (their modules hold the types and defaults).
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)

    # Keys of a `model:` section that are not fields above go into `settings`.
    __extra_keys__ = "settings"


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
