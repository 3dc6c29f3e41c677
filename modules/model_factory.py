"""Builds the configured model from hyperparameters, feature spec and vocabulary sizes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from recsearch import features as keys
from recsearch import model_registry
from recsearch.config import Model
from recsearch.features import FeatureSpec
from recsearch.modules.models import bias
from recsearch.modules.models.autorec import ItemAutoRec
from recsearch.modules.models.bias import BiasBaseline
from recsearch.modules.models.dcn import DCN
from recsearch.modules.models.deepfm import DeepFM
from recsearch.modules.models.ease import EASE
from recsearch.modules.models.encoders import ImageEncoder, TextEncoder, read_word_vectors
from recsearch.modules.models.fields import FieldEmbeddings
from recsearch.modules.models.gru4rec import GRU4Rec
from recsearch.modules.models.hybrid_mf import HybridMF
from recsearch.modules.models.item2vec import Item2Vec
from recsearch.modules.models.mf import BiasedMF
from recsearch.modules.models.mf_autorec import MFAutoRec
from recsearch.modules.models.mult_vae import MultVAE
from recsearch.modules.models.neumf import NeuMF
from recsearch.modules.models.pair_scorer import PairScorer
from recsearch.modules.models.sasrec import SASRec
from recsearch.modules.models.towers import FeatureTower
from recsearch.modules.models.two_tower import TwoTowerModel
from recsearch.modules.models.wide_deep import WideAndDeep
from recsearch.modules.models.wmf import WeightedMF
from recsearch.modules.optimizers import LazyAdam
from recsearch.modules.training_data import Catalog

PAIR_NETWORKS = {"neumf": NeuMF, "wide_deep": WideAndDeep, "deepfm": DeepFM, "dcn": DCN}


@dataclasses.dataclass(frozen=True)
class Parts:
    """What a builder needs of the run besides the family's own config.

    Attributes:
      spec: The feature specification.
      sizes: Index-space size of each id/categorical/hashed feature.
      text_vocab_size: Token-id space of text features (0 without text).
      catalog: Training catalog (item probabilities, mean rating).
      text_vocabulary: The text token vocabulary (for pretrained word vectors).
    """

    spec: FeatureSpec
    sizes: Mapping[str, int]
    text_vocab_size: int
    catalog: Catalog
    text_vocabulary: list[str] | None = None


def build_pair_scorer(cfg: Any, parts: Parts) -> PairScorer:
    """NeuMF, Wide & Deep, DeepFM or DCN-v2 over the id, categorical, hashed and numeric fields.

    Text and image features are not fields of these models (use two_tower).
    """
    spec, catalog = parts.spec, parts.catalog
    side = cfg.use_side_features
    dim = cfg.embedding_dim * (2 if cfg.name == "neumf" else 1)

    def fields(id_feature, categorical, numeric, offset):
        names = (id_feature, *(categorical if side else ()))
        return FieldEmbeddings(
            {n: parts.sizes[n] for n in names},
            numeric=numeric if side else (),
            dim=dim,
            l2=float(cfg.l2),
            seed=cfg.seed + offset,
        )

    extra = {"num_cross_layers": cfg.cross_layers} if cfg.name == "dcn" else {}
    return PAIR_NETWORKS[cfg.name](
        fields(keys.USER_ID, spec.user_categorical + spec.user_hashed, spec.user_numeric, 0),
        fields(keys.ITEM_ID, spec.item_categorical + spec.item_hashed, spec.item_numeric, 500),
        catalog.item_probability() if cfg.logq_correction else None,
        num_negatives=cfg.num_negatives,
        loss=cfg.loss,
        margin=float(cfg.margin),
        negative_pool=catalog.candidate_features(np.arange(catalog.item_vocab_size))
        if cfg.negative_sampling == "uniform"
        else None,
        seed=cfg.seed,
        hidden_layers=tuple(cfg.hidden_layers),
        **extra,
    )


def build_sequence_model(cfg: Any, parts: Parts):
    """GRU4Rec or SASRec over each user's latest items."""
    common = {
        "dim": cfg.embedding_dim,
        "length": cfg.sequence_length,
        "temperature": float(cfg.temperature),
        "loss": cfg.loss,
        "margin": float(cfg.margin),
        "logq_correction": bool(cfg.logq_correction),
        "dropout": float(cfg.sequence_dropout),
        "seed": cfg.seed,
    }
    if cfg.name == "gru4rec":
        return GRU4Rec(parts.catalog, **common)
    return SASRec(
        parts.catalog, num_blocks=cfg.attention_blocks, num_heads=cfg.attention_heads, **common
    )


# Families over the catalog's user x item history: their class, and which of the
# family's settings each constructor argument takes (numbers as the class wants them).
_HISTORY_MODELS = {
    "ease": (
        EASE,
        {"l2": "ease_l2", "recency_half_life": "recency_half_life", "neighbors": "ease_neighbors"},
    ),
    "mult_vae": (
        MultVAE,
        {
            "latent_dim": "embedding_dim",
            "hidden_dim": "vae_hidden_dim",
            "dropout": "vae_dropout",
            "beta": "vae_beta",
            "seed": "seed",
        },
    ),
    "item2vec": (
        Item2Vec,
        {
            "dim": "embedding_dim",
            "temperature": "temperature",
            "recency_half_life": "recency_half_life",
            "seed": "seed",
        },
    ),
    "wmf": (
        WeightedMF,
        {
            "dim": "embedding_dim",
            "unobserved_weight": "wmf_unobserved_weight",
            "l2": "l2",
            "seed": "seed",
        },
    ),
    "autorec": (ItemAutoRec, {"hidden_dim": "embedding_dim", "l2": "l2", "seed": "seed"}),
}


def build_history_model(cfg: Any, parts: Parts) -> tf.keras.Model:
    """EASE, Mult-VAE, item2vec, WMF or AutoRec: built over the catalog's histories."""
    cls, arguments = _HISTORY_MODELS[cfg.name]
    return cls(parts.catalog, **{arg: getattr(cfg, name) for arg, name in arguments.items()})


def build_bias(cfg: Any, parts: Parts) -> BiasBaseline:
    return BiasBaseline(parts.catalog, l2=float(cfg.bias_l2))


def build_hybrid_mf(cfg: Any, parts: Parts) -> HybridMF:
    """Hybrid MF over the id, categorical, hashed and numeric fields of users and items."""
    spec = parts.spec
    side = cfg.use_side_features

    # The id fields' first-order weights start from the bias baseline's biases.
    start = _start_biases(cfg, parts)

    def fields(id_feature, categorical, numeric, offset, biases):
        names = (id_feature, *(categorical if side else ()))
        return FieldEmbeddings(
            {n: parts.sizes[n] for n in names},
            numeric=numeric if side else (),
            dim=cfg.embedding_dim,
            l2=float(cfg.l2),
            seed=cfg.seed + offset,
            first_order={id_feature: biases},
        )

    return HybridMF(
        fields(
            keys.USER_ID,
            spec.user_categorical + spec.user_hashed,
            spec.user_numeric,
            0,
            start.users,
        ),
        fields(
            keys.ITEM_ID,
            spec.item_categorical + spec.item_hashed,
            spec.item_numeric,
            500,
            start.items,
        ),
        global_mean=start.mean,
    )


def _start_biases(cfg: Any, parts: Parts):
    """The bias baseline's fitted biases (at `cfg.bias_l2`) over the id spaces: where the
    rating factor models start."""
    return bias.catalog_biases(
        parts.catalog, float(cfg.bias_l2), parts.sizes[keys.USER_ID], parts.sizes[keys.ITEM_ID]
    )


def build_mf(cfg: Any, parts: Parts) -> BiasedMF:
    return BiasedMF(
        num_users=parts.sizes[keys.USER_ID],
        num_items=parts.sizes[keys.ITEM_ID],
        dim=cfg.embedding_dim,
        l2=float(cfg.l2),
        global_mean=parts.catalog.rating_mean,
        seed=cfg.seed,
        biases=_start_biases(cfg, parts),
    )


def build_mf_autorec(cfg: Any, parts: Parts) -> MFAutoRec:
    autorec = ItemAutoRec(
        parts.catalog, hidden_dim=cfg.autorec_hidden_dim, l2=float(cfg.autorec_l2), seed=cfg.seed
    )
    return MFAutoRec(build_mf(cfg, parts), autorec)


def build_two_tower(cfg: Any, parts: Parts) -> TwoTowerModel:
    """The two-tower model: ids, side fields and, with items' content, text and image encoders."""
    spec, catalog, sizes = parts.spec, parts.catalog, parts.sizes
    side = cfg.use_side_features
    text_encoder = image_encoder = None
    if side and spec.item_text:
        pretrained = None
        if cfg.word_vectors:
            pretrained = read_word_vectors(
                cfg.word_vectors, parts.text_vocabulary or [], parts.text_vocab_size
            )
        text_encoder = TextEncoder(
            parts.text_vocab_size,
            dim=pretrained.shape[1] if pretrained is not None else cfg.text_dim,
            kind=cfg.text_encoder,
            pretrained=pretrained,
        )
    if side and spec.item_image:
        image_encoder = ImageEncoder(
            kind=cfg.image_encoder, output_dim=cfg.image_dim, backbone_path=cfg.image_backbone
        )

    def tower(id_feature, categorical, numeric, text=(), image=None, offset=0):
        names = (id_feature, *(categorical if side else ()))
        return FeatureTower(
            id_feature=id_feature,
            cardinalities={n: sizes[n] for n in names},
            numeric=numeric if side else (),
            text=text if side else (),
            text_encoder=text_encoder if text else None,
            image_feature=keys.IMAGE if image else None,
            image_encoder=image,
            output_dim=cfg.embedding_dim,
            hidden_layers=tuple(cfg.hidden_layers),
            normalize=bool(cfg.normalize),
            l2=float(cfg.l2),
            seed=cfg.seed + offset,
        )

    user_tower = tower(keys.USER_ID, spec.user_categorical + spec.user_hashed, spec.user_numeric)
    item_tower = tower(
        keys.ITEM_ID,
        spec.item_categorical + spec.item_hashed,
        spec.item_numeric,
        spec.item_text,
        image_encoder,
        offset=1000,
    )
    return TwoTowerModel(
        user_tower,
        item_tower,
        catalog.item_probability() if cfg.logq_correction else None,
        temperature=float(cfg.temperature),
        id_dropout=float(cfg.id_dropout),
        item_oov_index=catalog.item_vocab_size,
        content_weight=float(cfg.content_weight) if side else 0.0,
        seed=cfg.seed,
        loss=cfg.loss,
        margin=float(cfg.margin),
        mixed_negatives=cfg.mixed_negatives,
        negative_pool=catalog.candidate_features(np.arange(catalog.item_vocab_size))
        if cfg.mixed_negatives
        else None,
    )


def build_model(name: str, settings: Model, parts: Parts) -> tf.keras.Model:
    """Creates an untrained model of family `name` (recsearch/model_registry.py).

    Args:
      name: A family of the registry.
      settings: The model settings, with tuned or auto-chosen values over the config's.
      parts: The run's feature spec, sizes and catalog.

    Raises:
      KeyError: On an unknown model name.
    """
    family = model_registry.family(name)
    return globals()[family.builder](family.config(settings), parts)


# `optimizer: auto` trains with LazyAdam from this many embedding rows (users and items) up.
LAZY_ADAM_ROWS = 20_000


def optimizer_name(settings: Model, table_rows: int | None = None) -> str:
    """The configured optimizer; "auto" is lazy_adam for embedding tables of
    LAZY_ADAM_ROWS rows or more (`table_rows`), adam for smaller or unknown ones.

    Keras' Adam updates every row of a table at every step: at 384,615 users a
    step cost 261 ms against LazyAdam's 14, at 40,000 users 43 against 8
    (docs/scale.md); at MovieLens 100K's 2,625 rows there is nothing to gain.
    """
    name = settings.optimizer
    if name == "auto":
        return "lazy_adam" if (table_rows or 0) >= LAZY_ADAM_ROWS else "adam"
    return name


def make_optimizer(settings: Model, table_rows: int | None = None) -> tf.keras.optimizers.Optimizer:
    """The configured optimizer (`optimizer_name`)."""
    rate = float(settings.learning_rate)
    name = optimizer_name(settings, table_rows)
    if name == "adagrad":
        return tf.keras.optimizers.Adagrad(learning_rate=rate, jit_compile=False)
    if name == "lazy_adam":
        return LazyAdam(learning_rate=rate, jit_compile=False)
    return tf.keras.optimizers.Adam(learning_rate=rate, jit_compile=False)
