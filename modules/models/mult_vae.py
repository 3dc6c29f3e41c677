"""Mult-VAE: a variational autoencoder over users' item histories (Liang et al., 2018).

The encoder maps a user's normalised multi-hot history (with dropout while
training) to a Gaussian over a latent z; a linear decoder turns z into logits
over the item vocabulary, trained with the multinomial log-likelihood of the
history plus beta times the KL divergence to N(0, I).

Serving uses the mean of z: logits = [mu, 1] . [W_i, b_i], so the query
vector is [mu, 1] and the candidate vector of item i is [W_i, b_i]; items
outside the vocabulary (cold items) get zeros.

Training batches are interactions, as for every model here; a batch's users
(each user as often as they interacted) are the autoencoder's rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import tensorflow as tf

from recsearch import features as keys
from recsearch.model_registry import TOP_K_TASKS, Family, positive, register
from recsearch.modules.models import arguments
from recsearch.modules.models.base import RecommenderModel, rows_in_vocabulary
from recsearch.modules.models.history import user_history
from recsearch.modules.models.parts import Parts
from recsearch.modules.models.settings import Embedding
from recsearch.modules.training_data import Catalog


class MultVAE(RecommenderModel):
    """Encoder [V] -> hidden -> (mu, log variance) [D]; linear decoder [D] -> [V]."""

    def __init__(
        self,
        catalog: Catalog,
        latent_dim: int = 200,
        hidden_dim: int = 600,
        dropout: float = 0.5,
        beta: float = 0.2,
        seed: int = 42,
    ):
        """Creates the model.

        Raises:
          ValueError: On a non-positive size, or dropout or beta out of range.
        """
        super().__init__()
        arguments.positive(latent_dim=latent_dim, hidden_dim=hidden_dim)
        arguments.fraction(dropout=dropout)
        arguments.non_negative(beta=beta)
        self.user_history = user_history(catalog)
        self.num_vocab_items = catalog.item_vocab_size
        self.dropout = tf.keras.layers.Dropout(dropout, seed=seed)
        init = tf.keras.initializers.GlorotUniform(seed=seed)
        self.hidden = tf.keras.layers.Dense(
            hidden_dim, activation="tanh", kernel_initializer=init, name="hidden"
        )
        self.to_mean = tf.keras.layers.Dense(latent_dim, kernel_initializer=init, name="mean")
        self.to_log_var = tf.keras.layers.Dense(latent_dim, kernel_initializer=init, name="log_var")
        self.decoder = tf.keras.layers.Dense(
            self.num_vocab_items, kernel_initializer=init, name="decoder"
        )
        self.beta = float(beta)
        self.seed = int(seed)

    def _encode(self, history: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.math.l2_normalize(history, axis=1)
        x = self.dropout(x, training=training)
        h = self.hidden(x)
        return self.to_mean(h), self.to_log_var(h)

    def query_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """[mu, 1] per user [B, D + 1]; a user without history encodes an empty row."""
        mean, _ = self._encode(self.user_history.dense(features[keys.USER_ID]), training=False)
        return tf.concat([mean, tf.ones_like(mean[:, :1])], axis=1)

    def candidate_vectors(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """[W_i, b_i] per item [B, D + 1]; zeros outside the vocabulary."""
        self._build_decoder()
        table = tf.concat([tf.transpose(self.decoder.kernel), self.decoder.bias[:, None]], axis=1)
        return rows_in_vocabulary(table, features[keys.ITEM_ID], self.num_vocab_items)

    def _build_decoder(self) -> None:
        """Creates the decoder's weights once (building it again would replace them)."""
        if not self.decoder.built:
            self.decoder.build((None, self.to_mean.units))

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        history = self.user_history.dense(features[keys.USER_ID])
        mean, log_var = self._encode(history, training)
        z = mean
        if training:
            z += tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean), seed=self.seed)
        log_probs = tf.nn.log_softmax(self.decoder(z), axis=1)
        targets = tf.cast(history > 0, tf.float32)
        likelihood = tf.reduce_sum(log_probs * targets, axis=1)
        kl = 0.5 * tf.reduce_sum(tf.exp(log_var) + tf.square(mean) - 1.0 - log_var, axis=1)
        return tf.reduce_mean(-likelihood + self.beta * kl)


@dataclasses.dataclass(frozen=True)
class MultVAESettings(Embedding):
    """Mult-VAE's settings (embedding_dim is the latent width).

    Attributes:
      vae_hidden_dim: Width of the encoder's hidden layer.
      vae_dropout: Input dropout while training.
      vae_beta: Weight of the KL term.
    """

    vae_hidden_dim: int = 600
    vae_dropout: float = 0.5
    vae_beta: float = 0.2

    def problems(self) -> list[tuple[str, str]]:
        return [*super().problems(), *positive(self, "vae_hidden_dim")]


def build(cfg: MultVAESettings, parts: Parts) -> MultVAE:
    return MultVAE(
        parts.catalog,
        latent_dim=cfg.embedding_dim,
        hidden_dim=cfg.vae_hidden_dim,
        dropout=cfg.vae_dropout,
        beta=cfg.vae_beta,
        seed=cfg.seed,
    )


FAMILY = register(Family("mult_vae", MultVAESettings, build, TOP_K_TASKS, inner_product=True))
