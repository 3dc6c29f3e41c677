"""Each model of the zoo beyond the two-tower trained by run_fn on real Transform output, served."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from recsearch import model_registry, testing
from recsearch.config.trainer_settings import with_values
from recsearch.modules import refit, train_export, trainer

pytestmark = pytest.mark.slow
HISTORY_MODELS = ("ease", "mult_vae", "item2vec", "gru4rec", "sasrec")


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": "ease", "recency_half_life": 5.0},
        {"name": "mult_vae", "embedding_dim": 16, "vae_hidden_dim": 32, "epochs": 2},
        {"name": "item2vec", "embedding_dim": 16, "epochs": 2, "recency_half_life": 5.0},
        {"name": "autorec", "embedding_dim": 16, "epochs": 2},
        {"name": "mf_autorec", "embedding_dim": 8, "autorec_hidden_dim": 16, "epochs": 2},
        {"name": "wmf", "embedding_dim": 8, "epochs": 2},
        {"name": "neumf", "embedding_dim": 8, "epochs": 2, "loss": "bce"},
        {"name": "wide_deep", "embedding_dim": 8, "epochs": 2},
        {"name": "deepfm", "embedding_dim": 8, "epochs": 2, "num_negatives": 4},
        {"name": "dcn", "embedding_dim": 8, "epochs": 2, "cross_layers": 1},
        {"name": "gru4rec", "embedding_dim": 8, "epochs": 2, "sequence_length": 5},
        {"name": "sasrec", "embedding_dim": 8, "epochs": 2, "sequence_length": 5},
    ],
    ids=lambda o: o["name"],
)
def test_trained_through_run_fn_and_served_after_reload(transformed, tmp_path, overrides):
    config = transformed.config
    config = dataclasses.replace(config, model=with_values(config.model, overrides))
    if not model_registry.family(overrides["name"]).inner_product:  # nothing for ANN to search
        config = dataclasses.replace(
            config, serving=dataclasses.replace(config.serving, index="brute_force")
        )
    version_dir, run_dir = str(tmp_path / "serving" / "1"), str(tmp_path / "run")
    # With a held-out split: the refit starts from the candidate's weights.
    data = testing.with_heldout(transformed.transformed_dir, str(tmp_path / "transformed"))
    args = testing.fn_args(config, data, transformed.transform_graph, version_dir, run_dir)
    trainer.run_fn(args)
    model = tf.saved_model.load(version_dir)
    assert {"recommend", "predict", "similar_items", "embed_items", "serving_default"} <= set(
        model.signatures
    )
    users = tf.constant(["u00001", "u00002", "nobody"])
    out = model.signatures["recommend"](user_id=users)
    ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
    assert ids.shape == (3, config.serving.top_k)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    assert len(set(ids[0])) == config.serving.top_k
    # predict scores the same pairs recommend ranked.
    again = model.signatures["predict"](
        user_id=tf.constant(["u00001"] * 3), item_id=tf.constant(ids[0][:3])
    )["scores"].numpy()
    np.testing.assert_allclose(again, scores[0][:3], rtol=1e-4, atol=1e-5)
    # History models have no vector for a cold item; AutoRec encodes its empty
    # rating row, the pair models its OOV and content fields.
    vectors = model.signatures["embed_items"](item_id=tf.constant(["new-001", "i0001"]))
    norms = np.linalg.norm(vectors["embeddings"].numpy(), axis=1)
    assert (norms[0] > 0.0) == (overrides["name"] not in HISTORY_MODELS) and norms[1] > 0.0
    similar = model.signatures["similar_items"](item_id=tf.constant(["i0001"]))["item_ids"]
    assert b"i0001" not in set(similar.numpy()[0])
    with open(os.path.join(run_dir, train_export.HISTORY_FILE)) as f:
        losses = json.load(f)["loss"]
    assert losses and all(np.isfinite(losses))
    with open(os.path.join(run_dir, refit.REFIT_HISTORY_FILE)) as f:
        refit_record = json.load(f)
    closed_form = overrides["name"] == "ease"
    assert refit_record["started_from_candidate"] is not closed_form
    assert closed_form or len(refit_record["loss"]) == config.release.refit_epochs
    served = tf.saved_model.load(refit.refit_model_dir(version_dir))
    refit_ids = served.signatures["recommend"](user_id=users)["item_ids"].numpy()
    assert refit_ids.shape == ids.shape
    # The Evaluator's outputs: the rank of an item among the user's unseen items,
    # its AUC against them and the balanced log loss.
    example = testing.raw_example(config, "u00001", ids[0][0])
    graded = model.signatures["serving_default"](examples=tf.constant([example]))
    assert float(graded["rank"][0]) == 0.0
    # Items scored the same as the top one (cold items sharing all their
    # fields) count half; the exact value is checked in trainer_test.
    assert 0.9 < float(graded["auc"][0]) <= 1.0
    assert np.isfinite(float(graded["log_loss"][0]))
