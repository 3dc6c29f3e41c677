"""The model sections of the config: the model and its settings, training, tuning.

Which of `Model`'s settings each family reads is in recsearch/model_registry.py.
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
      warm_start_epochs: Epochs of a training that warm-started (0: `epochs`,
        the full schedule, as from scratch).
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
      bias_l2: bias: the ridge penalty of the user and item biases (an item
        with n ratings has its bias shrunk by n / (n + bias_l2)); mf,
        hybrid_mf and mf_autorec start from the biases fitted at it (under
        model auto, at the bias candidate's penalty that scored best).
      ease_neighbors: EASE keeps this many item-item weights per item, the
        largest by magnitude; 0 (the default) keeps as many as fit 100 MB in
        all: every weight up to 3,535 items, 1,250 per item at 10,000. The
        recall pruning costs is measured in docs/benchmarks.md.
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
      optimizer: "adam", "lazy_adam" (Adam that updates only the embedding
        rows a batch looked up; for large user or item tables), "adagrad",
        or "auto" (the default): lazy_adam when the model's user and item
        tables hold 20,000 rows or more, adam below (the ranking stage of two
        stages: adam).
      l2: L2 penalty on embeddings.
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
    # Shared by several families (recsearch/model_registry.py says which).
    embedding_dim: int = 64
    hidden_layers: tuple[int, ...] = ()
    use_side_features: bool = True
    logq_correction: bool = True
    l2: float = 0.0
    temperature: float = 0.1
    loss: Literal["softmax", "approx_ndcg", "bpr", "triplet", "bce"] = "softmax"
    margin: float = 1.0
    # two_tower: its content encoders and extra negatives.
    normalize: bool = True
    text_encoder: Literal["bag", "cnn"] = "bag"
    text_dim: int = 32
    word_vectors: str | None = None
    image_encoder: Literal["cnn", "backbone"] = "cnn"
    image_backbone: str | None = None
    image_dim: int = 32
    id_dropout: float = 0.0
    content_weight: float = 0.5
    mixed_negatives: int = 0
    # neumf, wide_deep, deepfm, dcn.
    num_negatives: int = 8
    negative_sampling: Literal["uniform", "batch"] = "uniform"
    cross_layers: int = 2
    # gru4rec, sasrec.
    sequence_length: int = 50
    sequence_dropout: float = 0.2
    attention_blocks: int = 2
    attention_heads: int = 2
    # ease, item2vec.
    ease_l2: float = 100.0
    # bias.
    bias_l2: float = 10.0
    ease_neighbors: int = 0
    recency_half_life: float = 0.0
    # wmf.
    wmf_unobserved_weight: float = 0.1
    # mf_autorec.
    autorec_hidden_dim: int = 500
    autorec_l2: float = 0.001
    # mult_vae.
    vae_hidden_dim: int = 600
    vae_dropout: float = 0.5
    vae_beta: float = 0.2


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
