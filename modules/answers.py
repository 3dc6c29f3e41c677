"""Precomputed `recommend` answers: the CLI answers known and unknown users without TensorFlow.

The Trainer writes every known user's answer beside the graph at export
(`serving.write_answers`): the signature's own items and scores,
so these are the answers the model gives, read in milliseconds instead of
loading TensorFlow and the graph (seconds). A bundle without the file (older,
or above the user limit) is answered by the model.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

# Beside the graph; this module imports no TensorFlow, so the CLI can read it quickly.
ANSWERS = os.path.join("assets.extra", "recommend_answers.npz")


@dataclasses.dataclass(frozen=True)
class Answer:
    items: list[str]
    scores: list[float]
    known: bool


class Answers:
    """A bundle's precomputed answers."""

    def __init__(self, path: str):
        with np.load(path, allow_pickle=False) as data:
            self._users = {user: row for row, user in enumerate(data["users"].tolist())}
            self._items = data["items"]
            self._answers = data["answers"]
            self._scores = data["scores"]
            self._fallback = data["fallback"]
            self._fallback_scores = data["fallback_scores"]

    @property
    def k(self) -> int:
        """How many items each answer holds (serving.top_k at training time)."""
        return int(self._fallback.shape[0])

    def answer(self, user: str, k: int | None = None) -> Answer:
        """The user's top `k` (all by default); the unknown-user fallback for others."""
        row = self._users.get(user)
        if row is None:
            index, scores = self._fallback, self._fallback_scores
        else:
            index, scores = self._answers[row], self._scores[row]
        k = k or self.k
        return Answer(
            [str(v) for v in self._items[index[:k]]],
            [float(v) for v in scores[:k]],
            row is not None,
        )


def load(version_dir: str) -> Answers | None:
    """The precomputed answers of a bundle, or None when it has none."""
    path = os.path.join(version_dir, ANSWERS)
    return Answers(path) if os.path.isfile(path) else None
