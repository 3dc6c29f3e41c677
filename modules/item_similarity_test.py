"""The similar-items measure: anchors, their users' other next items, recall@K by hand."""

import numpy as np

from recsearch import features as keys
from recsearch.modules import item_similarity


def test_anchors_are_warm_held_items_of_users_with_two_or_more():
    held = {
        keys.USER_ID: np.array([0, 0, 0, 1, 1, 2, 3, 3]),
        keys.ITEM_ID: np.array([5, 6, 7, 5, 9, 6, 8, 8]),
    }
    counts = np.array([1, 1, 1, 1, 1, 3, 2, 0, 1, 4])  # item 7 is cold in the fitting part
    anchors, targets = item_similarity.anchor_pairs(held, counts, vocab_size=9)
    # User 0: 5 and 6 are anchors (7 is cold but still a target); user 1: 5 (9 is out of
    # the vocabulary); user 2 has one item; user 3 one distinct item.
    assert anchors.tolist() == [5, 6]
    assert [t.tolist() for t in targets] == [[6, 7], [5, 7]]


def test_recall_is_the_share_of_the_other_items_found_in_the_top_k():
    found = np.array([[6, 1, 2], [3, 4, 0]])
    targets = [np.array([6, 7]), np.array([9, 8, 7, 0])]
    # 1 of min(3, 2) for the first anchor; 1 of min(3, 4) for the second.
    assert item_similarity.recall_of(found, targets, 3) == np.mean([1 / 2, 1 / 3])
    assert np.isnan(item_similarity.recall_of(found[:0], [], 3))


def test_the_sample_is_bounded_and_seeded(monkeypatch):
    monkeypatch.setattr(item_similarity, "MAX_ANCHORS", 5)
    users = np.repeat(np.arange(10), 3)
    items = np.tile(np.arange(3), 10)
    held = {keys.USER_ID: users, keys.ITEM_ID: items}
    first, _ = item_similarity.anchor_pairs(held, np.ones(3), 3, seed=1)
    again, _ = item_similarity.anchor_pairs(held, np.ones(3), 3, seed=1)
    assert len(first) == 5 and first.tolist() == again.tolist()
