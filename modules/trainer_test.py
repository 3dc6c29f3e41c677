"""run_fn end to end on real Transform output: train, export, reload, call every signature."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from recsearch import features as keys
from recsearch import testing
from recsearch.modules import refit, train_export, trainer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(trained_bundle):
    return tf.saved_model.load(trained_bundle.version_dir), trained_bundle.run_dir


def _train_items(transformed):
    tft_output = tft.TFTransformOutput(transformed.transform_graph)
    items = [v.decode() for v in tft_output.vocabulary_by_name("item_id")]
    users = [v.decode() for v in tft_output.vocabulary_by_name("user_id")]
    dataset = tf.data.TFRecordDataset(
        tf.io.gfile.glob(transformed.files("transformed", "train")[0]), compression_type="GZIP"
    )
    spec = tft_output.transformed_feature_spec()
    seen, counts = {}, np.zeros(len(items) + 1)
    for record in dataset.batch(4096):
        parsed = tf.io.parse_example(record, spec)
        for u, i in zip(parsed[keys.USER_ID].numpy(), parsed[keys.ITEM_ID].numpy()):
            seen.setdefault(users[u], set()).add(items[i])
            counts[i] += 1
    return seen, items, counts


def test_history_and_signatures_exist(bundle):
    model, run_dir = bundle
    assert set(model.signatures) == testing.CONTENT_BUNDLE_SIGNATURES
    assert os.path.isfile(os.path.join(run_dir, train_export.HISTORY_FILE))


def test_recommend_excludes_seen_items_and_is_sorted(bundle, transformed):
    model, _ = bundle
    seen, _, _ = _train_items(transformed)
    users = sorted(seen)[:5]
    out = model.signatures["recommend"](user_id=tf.constant(users))
    ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
    assert ids.shape == (5, transformed.config.serving.top_k)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    for user, row in zip(users, ids):
        recommended = {v.decode() for v in row}
        assert not recommended & seen[user]
        assert len(recommended) == len(row)


def test_unknown_user_gets_popular_items(bundle, transformed):
    model, _ = bundle
    _, items, counts = _train_items(transformed)
    out = model.signatures["recommend"](user_id=tf.constant(["no-such-user"]))
    top = [v.decode() for v in out["item_ids"].numpy()[0]]
    order = np.argsort(-counts[: len(items)], kind="stable")
    assert top[0] == items[order[0]]
    assert counts[items.index(top[1])] <= counts[items.index(top[0])]


def test_predict_agrees_with_recommend(bundle, transformed):
    model, _ = bundle
    seen, _, _ = _train_items(transformed)
    user = sorted(seen)[0]
    out = model.signatures["recommend"](user_id=tf.constant([user]))
    items = out["item_ids"].numpy()[0][:3]
    scores = model.signatures["predict"](
        user_id=tf.constant([user] * 3), item_id=tf.constant(items)
    )["scores"].numpy()
    np.testing.assert_allclose(scores, out["scores"].numpy()[0][:3], rtol=1e-5, atol=1e-6)
    unknown = model.signatures["predict"](
        user_id=tf.constant([user]), item_id=tf.constant(["no-such-item"])
    )["scores"].numpy()
    assert unknown[0] == -np.inf


def test_serving_default_rank_matches_recommend_position(bundle, transformed):
    model, _ = bundle
    seen, _, _ = _train_items(transformed)
    user = sorted(seen)[1]
    top = model.signatures["recommend"](user_id=tf.constant([user]))["item_ids"].numpy()[0]
    examples = [testing.raw_example(transformed.config, user, item) for item in top[[0, 4]]]
    out = model.signatures["serving_default"](examples=tf.constant(examples))
    assert list(out["rank"].numpy()) == [0.0, 4.0]
    # AUC and log loss against every other unseen catalog item, by hand from predict.
    catalog = model.item_ids.numpy()
    scores = model.signatures["predict"](
        user_id=tf.constant([user] * len(catalog)), item_id=tf.constant(catalog)
    )["scores"].numpy()
    for row, item in enumerate(top[[0, 4]]):
        target = scores[list(catalog).index(item)]
        others = np.array(
            [c not in seen[user] and c != item.decode() for c in map(bytes.decode, catalog)]
        )
        negatives = scores[others]
        auc = (np.sum(negatives < target) + 0.5 * np.sum(negatives == target)) / len(negatives)
        log_loss = np.logaddexp(0, -target) + np.mean(np.logaddexp(0, negatives))
        assert float(out["auc"][row]) == pytest.approx(auc, abs=1e-6)
        assert float(out["log_loss"][row]) == pytest.approx(log_loss, rel=1e-4)


def test_empty_batch(bundle):
    model, _ = bundle
    out = model.signatures["recommend"](user_id=tf.constant([], tf.string))
    assert out["item_ids"].shape[0] == 0


def _items_table(transformed):
    import pandas as pd

    return pd.read_csv(transformed.config.resolve("items.csv")).set_index("item_id")


def test_cold_items_are_candidates_with_content_vectors(bundle):
    model, _ = bundle
    out = model.signatures["embed_items"](item_id=tf.constant(["new-001", "i0001", "nope"]))
    vectors = out["embeddings"].numpy()
    assert np.linalg.norm(vectors[0]) > 0 and np.linalg.norm(vectors[1]) > 0
    assert not vectors[2].any()
    # A cold item is scored like any other: predict finds it in the catalog.
    score = model.signatures["predict"](
        user_id=tf.constant(["u00001"]), item_id=tf.constant(["new-001"])
    )["scores"].numpy()[0]
    assert np.isfinite(score)


def test_similar_items_excludes_the_item_and_sorts(bundle):
    model, _ = bundle
    out = model.signatures["similar_items"](item_id=tf.constant(["i0003", "new-002", "nope"]))
    ids, scores = out["item_ids"].numpy(), out["scores"].numpy()
    assert b"i0003" not in set(ids[0]) and b"new-002" not in set(ids[1])
    assert np.all(np.diff(scores[:2], axis=1) <= 1e-6)
    assert np.all(scores[0] <= 1.0 + 1e-5)
    # An unknown item gets the most popular items, scored log(1 + count), and known false.
    assert out["known"].numpy().tolist() == [True, True, False]
    counts = np.sort(np.expm1(scores[2]))[::-1]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # whole counts
    assert np.all(np.diff(scores[2]) <= 0)


def test_the_bundle_stores_the_candidate_matrix_once(bundle, trained_bundle):
    """One model answers everything here: no second copy, normalised or not, is saved."""
    model, _ = bundle
    candidates = model.candidates.numpy()
    unit = candidates / np.maximum(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12)
    checkpoint = os.path.join(trained_bundle.version_dir, "variables", "variables")
    copies = [
        name
        for name, shape in tf.train.list_variables(checkpoint)
        if tuple(shape) == candidates.shape
        and any(
            np.allclose(tf.train.load_variable(checkpoint, name), m) for m in (candidates, unit)
        )
    ]
    assert len(copies) == 1, copies
    # similar_items' cosine is computed from that one matrix and its norms.
    (item,) = [i.decode() for i in model.item_ids.numpy()[:1]]
    scores = model.signatures["similar_items"](item_id=tf.constant([item]))["scores"].numpy()[0]
    expected = np.sort(np.delete(unit @ unit[0], 0))[::-1][: len(scores)]
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-5)


def test_search_text_and_image_return_catalog_items(bundle, transformed):
    model, _ = bundle
    items = _items_table(transformed)
    out = model.signatures["search_text"](query=tf.constant(["wireless headphones", ""]))
    ids = out["item_ids"].numpy()
    assert ids.shape == (2, transformed.config.serving.top_k)
    assert {v.decode() for v in ids[0]} <= set(items.index)
    # How many words of each query the vocabulary holds: 0 says nothing was matched.
    words = tft.TFTransformOutput(transformed.transform_graph).vocabulary_by_name(keys.TEXT_VOCAB)
    vocabulary = {w.decode() for w in words}
    queries = ["wireless headphones", "", "zzzqqq", "Zzzqqq, WIRELESS!"]
    expected = [
        sum(w in vocabulary for w in q.lower().replace(",", " ").replace("!", " ").split())
        for q in queries
    ]
    assert expected[0] >= 1 and expected[2] == 0
    found = model.signatures["search_text"](query=tf.constant(queries))["known_tokens"]
    assert found.numpy().tolist() == expected
    with open(transformed.config.resolve(items.loc["i0002", "image"]), "rb") as f:
        png = f.read()
    out = model.signatures["search_image"](image=tf.constant([png]))
    assert out["item_ids"].shape == (1, transformed.config.serving.top_k)
    assert np.all(np.diff(out["scores"].numpy(), axis=1) <= 1e-6)


def test_scann_companion_matches_exact_top_k_on_a_tiny_catalog(trained_bundle):
    from recsearch import bundle as bundles

    companion = bundles.companion_path(trained_bundle.version_dir)
    assert os.path.isfile(os.path.join(companion, "saved_model.pb"))
    exact = tf.saved_model.load(trained_bundle.version_dir).signatures
    approximate = bundles.load(trained_bundle.base_dir).signatures  # loads the companion
    users = tf.constant(["u00001", "u00007", "nobody"])
    for name, inputs in (
        ("recommend", {"user_id": users}),
        ("similar_items", {"item_id": tf.constant(["i0003", "new-001"])}),
        ("search_text", {"query": tf.constant(["wireless headphones"])}),
    ):
        # Every partition is searched and re-ranked exactly, so here ScaNN must equal brute force.
        got, want = approximate[name](**inputs), exact[name](**inputs)
        np.testing.assert_array_equal(got["item_ids"].numpy(), want["item_ids"].numpy())
        np.testing.assert_allclose(got["scores"].numpy(), want["scores"].numpy(), rtol=1e-4)


def test_the_refit_starts_from_the_candidate_and_trains_refit_epochs(transformed, tmp_path):
    data = testing.with_heldout(transformed.transformed_dir, str(tmp_path / "transformed"))
    config = transformed.config
    config = dataclasses.replace(
        config, release=dataclasses.replace(config.release, refit_epochs=1)
    )
    version_dir, run_dir = str(tmp_path / "serving" / "1"), str(tmp_path / "run")
    args = testing.fn_args(config, data, transformed.transform_graph, version_dir, run_dir)
    trainer.run_fn(args)
    with open(os.path.join(run_dir, train_export.HISTORY_FILE)) as f:
        candidate = json.load(f)
    with open(os.path.join(run_dir, refit.REFIT_HISTORY_FILE)) as f:
        refit_record = json.load(f)
    assert len(candidate["loss"]) == config.model.epochs and not candidate["started_from_candidate"]
    assert len(refit_record["loss"]) == 1 and refit_record["started_from_candidate"]
    # It went on from the candidate's weights: its one epoch starts near where the
    # candidate ended, not where it began.
    assert refit_record["loss"][0] < (candidate["loss"][0] + candidate["loss"][-1]) / 2
    assert refit_record["interactions"] > candidate["interactions"]
    model = tf.saved_model.load(refit.refit_model_dir(version_dir))
    out = model.signatures["recommend"](user_id=tf.constant(["u00001"]))
    assert out["item_ids"].shape == (1, config.serving.top_k)


def test_carrying_weights_between_models_built_differently_is_refused():
    small = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    wide = tf.keras.Sequential([tf.keras.layers.Dense(4, input_shape=(3,))])
    with pytest.raises(ValueError, match="weights differ"):
        refit.carry_weights(small, wide)
    twin = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    refit.carry_weights(small, twin)
    np.testing.assert_array_equal(twin.weights[0].numpy(), small.weights[0].numpy())


def test_carrying_the_optimizer_continues_training_exactly_where_it_stopped():
    def model():
        tf.keras.utils.set_random_seed(3)
        built = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
        built.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="mse")
        return built

    x = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    y = x[:, :2] * 2.0
    source = model()
    source.fit(x, y, epochs=3, verbose=0)
    continued, fresh = model(), model()
    for target in (continued, fresh):
        refit.carry_weights(source, target)
    assert refit.carry_optimizer(source, continued)
    assert int(continued.optimizer.iterations) == int(source.optimizer.iterations) > 0
    # One more step of each: the carried state takes the source's own step, a fresh Adam not.
    for target in (source, continued, fresh):
        target.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    np.testing.assert_allclose(continued.weights[0].numpy(), source.weights[0].numpy(), atol=1e-6)
    assert not np.allclose(fresh.weights[0].numpy(), source.weights[0].numpy(), atol=1e-4)
    # Another optimizer's state is not carried.
    other = tf.keras.Sequential([tf.keras.layers.Dense(2, input_shape=(3,))])
    other.compile(optimizer=tf.keras.optimizers.Adagrad(0.05), loss="mse")
    assert not refit.carry_optimizer(source, other)
