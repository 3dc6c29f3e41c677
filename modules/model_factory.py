"""Builds the configured model from hyperparameters, feature spec and vocabulary sizes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from recsearch.modules import features as keys
from recsearch.modules.features import FeatureSpec
from recsearch.modules.models.autorec import ItemAutoRec
from recsearch.modules.models.dcn import DCN
from recsearch.modules.models.deepfm import DeepFM
from recsearch.modules.models.ease import EASE, MAX_ITEMS
from recsearch.modules.models.encoders import ImageEncoder, TextEncoder, read_word_vectors
from recsearch.modules.models.fields import FieldEmbeddings
from recsearch.modules.models.gru4rec import GRU4Rec
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
from recsearch.modules.training_data import Catalog

PAIR_MODELS = {"neumf": NeuMF, "wide_deep": WideAndDeep, "deepfm": DeepFM, "dcn": DCN}
SEQUENCE_MODELS = ("gru4rec", "sasrec")
MODELS = (
    "two_tower",
    "ease",
    "mult_vae",
    "item2vec",
    "mf",
    "autorec",
    "mf_autorec",
    "wmf",
    *PAIR_MODELS,
    *SEQUENCE_MODELS,
)


def build_pair_scorer(
    name: str,
    hparams: Mapping[str, Any],
    spec: FeatureSpec,
    sizes: Mapping[str, int],
    catalog: Catalog,
) -> PairScorer:
    """NeuMF, Wide & Deep, DeepFM or DCN-v2 over the id, categorical, hashed and numeric fields.

    Text and image features are not fields of these models (use two_tower).
    """
    side = bool(hparams["use_side_features"])
    dim = int(hparams["embedding_dim"]) * (2 if name == "neumf" else 1)
    seed = int(hparams["seed"])

    def fields(id_feature, categorical, numeric, offset):
        names = (id_feature, *(categorical if side else ()))
        return FieldEmbeddings(
            {n: sizes[n] for n in names},
            numeric=numeric if side else (),
            dim=dim,
            l2=float(hparams["l2"]),
            seed=seed + offset,
        )

    extra = {"num_cross_layers": int(hparams.get("cross_layers", 2))} if name == "dcn" else {}
    uniform = hparams.get("negative_sampling", "uniform") == "uniform"
    return PAIR_MODELS[name](
        fields(keys.USER_ID, spec.user_categorical + spec.user_hashed, spec.user_numeric, 0),
        fields(keys.ITEM_ID, spec.item_categorical + spec.item_hashed, spec.item_numeric, 500),
        catalog.item_probability() if hparams["logq_correction"] else None,
        num_negatives=int(hparams.get("num_negatives", 8)),
        loss=hparams.get("loss", "softmax"),
        margin=float(hparams.get("margin", 1.0)),
        negative_pool=catalog.candidate_features(np.arange(catalog.item_vocab_size))
        if uniform
        else None,
        seed=seed,
        hidden_layers=tuple(hparams["hidden_layers"]),
        **extra,
    )


def build_sequence_model(name: str, hparams: Mapping[str, Any], catalog: Catalog):
    """GRU4Rec or SASRec over each user's latest items."""
    common = {
        "dim": int(hparams["embedding_dim"]),
        "length": int(hparams.get("sequence_length", 50)),
        "temperature": float(hparams["temperature"]),
        "loss": hparams.get("loss", "softmax"),
        "margin": float(hparams.get("margin", 1.0)),
        "logq_correction": bool(hparams["logq_correction"]),
        "dropout": float(hparams.get("sequence_dropout", 0.2)),
        "seed": int(hparams["seed"]),
    }
    if name == "gru4rec":
        return GRU4Rec(catalog, **common)
    return SASRec(
        catalog,
        num_blocks=int(hparams.get("attention_blocks", 2)),
        num_heads=int(hparams.get("attention_heads", 2)),
        **common,
    )


def build_model(
    name: str,
    hparams: Mapping[str, Any],
    spec: FeatureSpec,
    sizes: Mapping[str, int],
    text_vocab_size: int,
    catalog: Catalog,
    text_vocabulary: list[str] | None = None,
) -> tf.keras.Model:
    """Creates an untrained model.

    Args:
      name: One of MODELS.
      hparams: The `model` section of the config, as a dict.
      spec: The feature specification.
      sizes: Index-space size of each id/categorical/hashed feature.
      text_vocab_size: Token-id space of text features (0 without text).
      catalog: Training catalog (item probabilities, mean rating).
      text_vocabulary: The text token vocabulary (for pretrained word vectors).

    Raises:
      ValueError: On an unknown model name.
    """
    dim = int(hparams["embedding_dim"])
    if name == "ease" and hparams.get("name") == "auto" and catalog.item_vocab_size > MAX_ITEMS:
        logging.info(
            "model: auto: %d items is above EASE's %d; training two_tower",
            catalog.item_vocab_size,
            MAX_ITEMS,
        )
        name = "two_tower"
    if name in PAIR_MODELS:
        return build_pair_scorer(name, hparams, spec, sizes, catalog)
    if name in SEQUENCE_MODELS:
        return build_sequence_model(name, hparams, catalog)
    if name == "ease":
        return EASE(
            catalog,
            l2=float(hparams.get("ease_l2", 100.0)),
            recency_half_life=float(hparams.get("recency_half_life", 0.0)),
        )
    if name == "mult_vae":
        return MultVAE(
            catalog,
            latent_dim=dim,
            hidden_dim=int(hparams.get("vae_hidden_dim", 600)),
            dropout=float(hparams.get("vae_dropout", 0.5)),
            beta=float(hparams.get("vae_beta", 0.2)),
            seed=int(hparams["seed"]),
        )
    if name == "item2vec":
        return Item2Vec(
            catalog,
            dim=dim,
            temperature=float(hparams["temperature"]),
            recency_half_life=float(hparams.get("recency_half_life", 0.0)),
            seed=int(hparams["seed"]),
        )
    if name == "wmf":
        return WeightedMF(
            catalog,
            dim=dim,
            unobserved_weight=float(hparams.get("wmf_unobserved_weight", 0.1)),
            l2=float(hparams["l2"]),
            seed=int(hparams["seed"]),
        )
    if name == "autorec":
        return ItemAutoRec(
            catalog, hidden_dim=dim, l2=float(hparams["l2"]), seed=int(hparams["seed"])
        )
    if name in ("mf", "mf_autorec"):
        mf = BiasedMF(
            num_users=sizes[keys.USER_ID],
            num_items=sizes[keys.ITEM_ID],
            dim=dim,
            l2=float(hparams["l2"]),
            global_mean=catalog.rating_mean,
            seed=int(hparams["seed"]),
        )
        if name == "mf":
            return mf
        autorec = ItemAutoRec(
            catalog,
            hidden_dim=int(hparams["autorec_hidden_dim"]),
            l2=float(hparams["autorec_l2"]),
            seed=int(hparams["seed"]),
        )
        return MFAutoRec(mf, autorec)
    if name == "two_tower":
        side = bool(hparams["use_side_features"])
        seed = int(hparams["seed"])
        text_encoder = image_encoder = None
        if side and spec.item_text:
            pretrained = None
            if hparams.get("word_vectors"):
                pretrained = read_word_vectors(
                    hparams["word_vectors"], text_vocabulary or [], text_vocab_size
                )
            text_encoder = TextEncoder(
                text_vocab_size,
                dim=pretrained.shape[1] if pretrained is not None else int(hparams["text_dim"]),
                kind=hparams["text_encoder"],
                pretrained=pretrained,
            )
        if side and spec.item_image:
            image_encoder = ImageEncoder(
                kind=hparams["image_encoder"],
                output_dim=int(hparams["image_dim"]),
                backbone_path=hparams.get("image_backbone"),
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
                output_dim=dim,
                hidden_layers=tuple(hparams["hidden_layers"]),
                normalize=bool(hparams["normalize"]),
                l2=float(hparams["l2"]),
                seed=seed + offset,
            )

        user_tower = tower(
            keys.USER_ID, spec.user_categorical + spec.user_hashed, spec.user_numeric
        )
        item_tower = tower(
            keys.ITEM_ID,
            spec.item_categorical + spec.item_hashed,
            spec.item_numeric,
            spec.item_text,
            image_encoder,
            offset=1000,
        )
        probability = catalog.item_probability() if hparams["logq_correction"] else None
        mixed = int(hparams.get("mixed_negatives", 0))
        return TwoTowerModel(
            user_tower,
            item_tower,
            probability,
            temperature=float(hparams["temperature"]),
            id_dropout=float(hparams["id_dropout"]),
            item_oov_index=catalog.item_vocab_size,
            content_weight=float(hparams["content_weight"]) if side else 0.0,
            seed=seed,
            loss=hparams.get("loss", "softmax"),
            margin=float(hparams.get("margin", 1.0)),
            mixed_negatives=mixed,
            negative_pool=catalog.candidate_features(np.arange(catalog.item_vocab_size))
            if mixed
            else None,
        )
    raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")


def make_optimizer(hparams: Mapping[str, Any]) -> tf.keras.optimizers.Optimizer:
    """The configured optimizer."""
    rate = float(hparams["learning_rate"])
    if hparams["optimizer"] == "adagrad":
        return tf.keras.optimizers.Adagrad(learning_rate=rate, jit_compile=False)
    return tf.keras.optimizers.Adam(learning_rate=rate, jit_compile=False)
