"""What `model: auto` compares for each task, without TensorFlow (the CLI reads it too)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

# EASE's B is a dense V x V matrix: past this many items it is not a candidate.
EASE_MAX_ITEMS = 30_000


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A model family with the settings auto gives it (over the config's own)."""

    name: str
    settings: Mapping = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k} {v:g}" for k, v in self.settings.items())
        return f"{self.name} ({extra})" if extra else self.name


# The families each task compares. Recency-weighted EASE is the strongest
# id-only model on the temporal protocols of docs/benchmarks.md.
CANDIDATES = {
    "retrieval": (Candidate("ease", {"recency_half_life": 10.0}), Candidate("two_tower")),
    "ranking": (Candidate("deepfm"), Candidate("ease", {"recency_half_life": 10.0})),
    "sequential": (Candidate("gru4rec"), Candidate("ease", {"recency_half_life": 5.0})),
    "rating": (Candidate("mf"), Candidate("autorec"), Candidate("mf_autorec")),
}


def candidates_for(task: str, num_items: int) -> tuple[list[Candidate], dict[str, str]]:
    """The candidates that fit the task and the catalog, and the skipped ones with why."""
    chosen, skipped = [], {}
    for candidate in CANDIDATES[task]:
        if candidate.name == "ease" and num_items > EASE_MAX_ITEMS:
            skipped[candidate.label] = (
                f"its dense item x item matrix takes at most {EASE_MAX_ITEMS:,} items, "
                f"this catalog has {num_items:,}"
            )
            continue
        chosen.append(candidate)
    return chosen, skipped
