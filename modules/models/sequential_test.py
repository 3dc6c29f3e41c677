"""GRU4Rec and SASRec: order matters, padding does not, and a transition rule is learned."""

import numpy as np
import pytest
import tensorflow as tf

from recsearch.modules.models.gru4rec import GRU4Rec
from recsearch.modules.models.sasrec import SASRec
from recsearch.testing import tiny_catalog

NUM_ITEMS = 12


def _chains(users=36, run=5):
    """User u watched items s, s+1, ..., s+run-1 (mod NUM_ITEMS), in that order."""
    history = [[(u + k) % NUM_ITEMS for k in range(run)] for u in range(users)]
    recency = [list(range(run - 1, -1, -1)) for _ in range(users)]
    return history, recency


def _model(cls, catalog, **kwargs):
    return cls(catalog, dim=16, length=4, temperature=0.2, seed=3, **kwargs)


@pytest.mark.parametrize("cls", [GRU4Rec, SASRec])
def test_query_depends_on_order_and_ignores_history_beyond_the_window(cls):
    # Users 0 and 1 had the same items in opposite orders; user 2 had one more,
    # older item than user 0, outside a window of 4... after 5 items.
    catalog = tiny_catalog(
        [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4, 5]],
        recency=[[3, 2, 1, 0], [0, 1, 2, 3], [3, 2, 1, 0, 4]],
        num_items=NUM_ITEMS,
    )
    model = _model(cls, catalog)
    queries = model.query_vectors({"user_id": tf.constant([0, 1, 2])}).numpy()
    assert not np.allclose(queries[0], queries[1], atol=1e-4)
    np.testing.assert_allclose(queries[0], queries[2], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [GRU4Rec, SASRec])
def test_learns_that_item_k_follows_item_k_minus_1(cls):
    history, recency = _chains()
    catalog = tiny_catalog(history, recency=recency, num_items=NUM_ITEMS)
    model = _model(cls, catalog, logq_correction=False)
    users = np.repeat(np.arange(len(history)), [len(h) for h in history])
    items = np.concatenate(history)
    data = (
        tf.data.Dataset.from_tensor_slices({"user_id": users, "item_id": items})
        .shuffle(len(users), seed=0)
        .batch(32)
        .repeat()
    )
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02))
    model.fit(data, steps_per_epoch=150, epochs=1, verbose=0)
    # Asked for each user's last item, the history before it is the chain so
    # far; the right answer is last + 1.
    firsts = np.array([h[0] for h in history])
    probe = {"user_id": tf.constant(np.arange(len(history)))}
    scores = model.score_matrix(
        model.query_vectors(probe),
        model.candidate_vectors({"item_id": tf.range(NUM_ITEMS)}),
    ).numpy()
    predicted = scores.argmax(axis=1)
    assert np.mean(predicted == (firsts + 5) % NUM_ITEMS) >= 0.8


def test_bad_arguments_are_named():
    catalog = tiny_catalog([[0, 1]], num_items=4)
    with pytest.raises(ValueError, match="multiple of num_heads 3"):
        SASRec(catalog, dim=16, num_heads=3)
    with pytest.raises(ValueError, match="length must be positive"):
        GRU4Rec(catalog, length=0)
    with pytest.raises(ValueError, match="got 'listnet'"):
        GRU4Rec(catalog, loss="listnet")
