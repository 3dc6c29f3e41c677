"""A model family is one module: a toy one, declared and registered inside this test, is
checked in a config, trained through `run_fn`, exported and served after reload.

Nothing outside this file names it: no config field, no factory entry, no table.
"""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import yaml

from recsearch import features as keys
from recsearch import model_registry, testing
from recsearch.config import config_from_dict
from recsearch.config.trainer_settings import with_values
from recsearch.errors import ConfigError
from recsearch.model_registry import TOP_K_TASKS, Family, positive, register
from recsearch.modules import train_export, trainer
from recsearch.modules.models import losses
from recsearch.modules.models.base import RecommenderModel
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import Embedding

pytestmark = pytest.mark.slow


@dataclasses.dataclass(frozen=True)
class ToySettings(Embedding):
    """toy_scale: Multiplies every query vector (a setting only this family reads)."""

    toy_scale: float = 1.0

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "toy_scale")]


class ToyDot(RecommenderModel):
    """A user and an item embedding, scored by their dot product, trained by in-batch softmax."""

    def __init__(self, num_users: int, num_items: int, dim: int, scale: float, seed: int):
        super().__init__()
        init = tf.keras.initializers.RandomNormal(stddev=0.05, seed=seed)
        self.users = tf.keras.layers.Embedding(num_users, dim, embeddings_initializer=init)
        self.items = tf.keras.layers.Embedding(num_items, dim, embeddings_initializer=init)
        self.scale = scale

    def query_vectors(self, features):
        return self.scale * self.users(features[keys.USER_ID])

    def candidate_vectors(self, features):
        return self.items(features[keys.ITEM_ID])

    def compute_loss(self, features, training=False):
        logits, negatives = losses.in_batch_logits(
            self.query_vectors(features),
            self.candidate_vectors(features),
            features[keys.ITEM_ID],
            None,
            temperature=0.1,
        )
        return losses.ranking_loss("softmax", logits, negatives)


def build(cfg: ToySettings, parts: Parts) -> ToyDot:
    return ToyDot(
        parts.sizes[keys.USER_ID],
        parts.sizes[keys.ITEM_ID],
        cfg.embedding_dim,
        cfg.toy_scale,
        cfg.seed,
    )


@pytest.fixture()
def toy():
    family = register(Family("toy_dot", ToySettings, build, TOP_K_TASKS, inner_product=True))
    yield family
    model_registry.unregister("toy_dot")


def _with_model(sample_dir: str, model: dict) -> dict:
    """The sample shop's config file as data, its model section replaced."""
    with open(os.path.join(sample_dir, "config.yaml"), encoding="utf-8") as f:
        return {**yaml.safe_load(f), "model": model}


def test_a_registered_family_is_checked_by_the_config(toy, sample_dir):
    assert "toy_dot" in model_registry.for_task("retrieval")
    for change, message in [
        ({"toy_scale": 0.0}, "'model.toy_scale' must be positive, got 0.0"),
        ({"toy_scale": "big"}, "'model.toy_scale' must be a number, got 'big'"),
        ({"embedding_dim": 0}, "'model.embedding_dim' must be positive, got 0"),
        ({"temperature": 0.2}, "'model.temperature' does not apply to model 'toy_dot'"),
    ]:
        raw = _with_model(sample_dir, {"name": "toy_dot", **change})
        with pytest.raises(ConfigError, match=message):
            config_from_dict(raw, base_dir=sample_dir, origin="toy.yaml")
    raw = _with_model(sample_dir, {"name": "toy_dot", "toy_scale": 2, "seed": 5})
    good = config_from_dict(raw, base_dir=sample_dir, origin="toy.yaml")
    assert toy.config(good.model) == ToySettings(name="toy_dot", seed=5, toy_scale=2.0)


def test_a_registered_family_trains_through_run_fn_and_serves(toy, transformed, tmp_path):
    config = transformed.config
    config = dataclasses.replace(
        config,
        model=with_values(dataclasses.replace(config.model, name="toy_dot"), {"toy_scale": 2.0}),
        serving=dataclasses.replace(config.serving, index="brute_force"),
    )
    version_dir, run_dir = str(tmp_path / "serving" / "1"), str(tmp_path / "run")
    trainer.run_fn(
        testing.fn_args(
            config, transformed.transformed_dir, transformed.transform_graph, version_dir, run_dir
        )
    )
    with open(os.path.join(run_dir, train_export.HISTORY_FILE)) as f:
        history = json.load(f)
    assert history["model"] == "toy_dot"
    assert len(history["loss"]) == config.model.epochs
    assert history["loss"][-1] < history["loss"][0]
    served = tf.saved_model.load(version_dir)
    user = "u00001"
    out = served.signatures["recommend"](user_id=tf.constant([user]))
    items = out["item_ids"].numpy()[0]
    assert len(items) == config.serving.top_k
    scores = served.signatures["predict"](
        user_id=tf.constant([user] * 3), item_id=tf.constant(items[:3])
    )["scores"].numpy()
    np.testing.assert_allclose(scores, out["scores"].numpy()[0][:3], rtol=1e-5, atol=1e-6)
