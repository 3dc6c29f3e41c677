"""Generated logs of other shapes than the sample shop: for finding where defaults break.

`recsearch bench shapes` runs the default pipeline on each, varying one thing at
a time from a base shape: the catalog's size (1k, 10k, 50k items), implicit
events or 1-5 ratings, dense users (tens of interactions each) or sparse ones
(most with 1-5), with or without timestamps, with or without an items table of
metadata. These logs find where a default gives way; they are not a target to
tune a single number on.

The planted structure: items fall in `GENRES` genres and belong to authors
(several items each, one genre per author); each user has a taste over a few
genres and a personal bias; items have a quality and a heavy-tailed
popularity. A user's items are drawn genre first, then by popularity and
quality within it; a rating is 3 + user bias + quality + taste match + noise,
rounded into 1..5. With timestamps a user's taste drifts over the span, so the
latest interactions differ from the earliest. Metadata (genre, author,
publication year, page count) carries part of the signal, as book metadata
does.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import yaml

GENRES = 24
_ITEMS_PER_AUTHOR = 6
_START = 1_767_225_600  # 2026-01-01T00:00:00Z
_DAYS = 180


@dataclasses.dataclass(frozen=True)
class ShapeSpec:
    """One shape of log.

    Attributes:
      items: Catalog size.
      interactions: About this many rows in the log.
      rated: 1-5 ratings (task rating) rather than implicit events.
      sparse: Most users have 1-5 interactions (else tens, lognormal).
      timestamps: A timestamp column (else none: the split is random).
      metadata: An items table with genre, author, year and pages.
      seed: Random seed; the same spec and seed give the same rows.
    """

    items: int = 10_000
    interactions: int = 100_000
    rated: bool = False
    sparse: bool = False
    timestamps: bool = True
    metadata: bool = True
    seed: int = 5

    @property
    def name(self) -> str:
        parts = [
            f"{self.items // 1000}k-items" if self.items >= 1000 else f"{self.items}-items",
            "rated" if self.rated else "implicit",
            "sparse" if self.sparse else "dense",
            "timed" if self.timestamps else "untimed",
            "meta" if self.metadata else "bare",
        ]
        return "-".join(parts)


def user_sizes(spec: ShapeSpec, rng: np.random.Generator) -> np.ndarray:
    """Interactions per user, adding up to about `spec.interactions`.

    Dense: lognormal around 30 (at least 5). Sparse: 80% of users have 1-5,
    the rest a long tail (lognormal around 20).
    """
    sizes = []
    total = 0
    while total < spec.interactions:
        if spec.sparse:
            light = rng.random(4096) < 0.8
            drawn = np.where(
                light,
                rng.integers(1, 6, 4096),
                np.maximum(6, rng.lognormal(np.log(20), 0.8, 4096).astype(int)),
            )
        else:
            drawn = np.maximum(5, rng.lognormal(np.log(30), 0.7, 4096).astype(int))
        drawn = np.minimum(drawn, max(1, spec.items // 2))
        cut = np.searchsorted(np.cumsum(drawn) + total, spec.interactions) + 1
        sizes.append(drawn[:cut])
        total += int(drawn[:cut].sum())
    return np.concatenate(sizes)


def generate(spec: ShapeSpec) -> dict[str, pd.DataFrame | None]:
    """The log and, with metadata, the items table.

    Returns:
      {"interactions": frame (user_id, item_id, [rating], [timestamp]),
       "items": frame or None}.
    """
    rng = np.random.default_rng(spec.seed)
    n = spec.items
    authors = np.maximum(1, n // _ITEMS_PER_AUTHOR)
    author = rng.integers(0, authors, n)
    author_genre = rng.integers(0, GENRES, authors)
    genre = author_genre[author]
    quality = rng.normal(0.0, 0.6, n) + rng.normal(0.0, 0.4, authors)[author]
    popularity = 1.0 / (rng.permutation(n) + 5.0) ** 0.9
    year = np.clip(np.round(rng.normal(2005, 12, n) + 2 * quality), 1950, 2026).astype(int)
    pages = np.clip(rng.lognormal(np.log(300), 0.4, n) * (1 + 0.2 * (genre % 3)), 40, 2000)
    # Within a genre, items are drawn by popularity and quality: one CDF per genre.
    appeal = popularity * np.exp(0.8 * quality)
    by_genre = [np.flatnonzero(genre == g) for g in range(GENRES)]
    cdfs = [np.cumsum(appeal[idx]) / appeal[idx].sum() if len(idx) else None for idx in by_genre]

    sizes = user_sizes(spec, rng)
    users = len(sizes)
    # Tastes: three favourite genres each, and a second set the user drifts toward.
    first = rng.integers(0, GENRES, (users, 3))
    later = rng.integers(0, GENRES, (users, 3))
    user_bias = rng.normal(0.0, 0.5, users)
    rows_user, rows_item, rows_time = [], [], []
    for u in range(users):
        count = int(sizes[u])
        position = np.sort(rng.random(count))  # when in the user's span, 0..1
        drifted = rng.random(count) < position * 0.6 if spec.timestamps else np.zeros(count, bool)
        pick = rng.integers(0, 3, count)
        wanted = np.where(drifted, later[u, pick], first[u, pick])
        seen: set[int] = set()
        for g, at in zip(wanted, position):
            if cdfs[g] is None:
                continue
            for _ in range(4):  # distinct items: redraw a repeat a few times
                item = int(by_genre[g][np.searchsorted(cdfs[g], rng.random(), side="right")])
                if item not in seen:
                    break
            if item in seen:
                continue
            seen.add(item)
            rows_user.append(u)
            rows_item.append(item)
            rows_time.append(at)
    rows_user, rows_item = np.array(rows_user), np.array(rows_item)
    frame = pd.DataFrame(
        {"user_id": [f"u{u:06d}" for u in rows_user], "item_id": [f"b{i:06d}" for i in rows_item]}
    )
    if spec.rated:
        liked = np.isin(genre[rows_item][:, None], first[rows_user]).any(axis=1)
        score = 2.8 + user_bias[rows_user] + quality[rows_item] + 0.6 * liked
        score += rng.normal(0.0, 0.7, len(frame))
        frame["rating"] = np.clip(np.round(score), 1, 5).astype(int)
    if spec.timestamps:
        start = _START + rng.integers(0, _DAYS // 2 * 86400, users)[rows_user]
        frame["timestamp"] = start + (np.array(rows_time) * (_DAYS // 2) * 86400).astype(int)
    items = None
    if spec.metadata:
        items = pd.DataFrame(
            {
                "item_id": [f"b{i:06d}" for i in range(n)],
                "genre": [f"genre-{g:02d}" for g in genre],
                "author": [f"author-{a:05d}" for a in author],
                "year": year,
                "pages": np.round(pages).astype(int),
            }
        )
    return {"interactions": frame, "items": items}


def write(directory: str, spec: ShapeSpec) -> str:
    """Writes the log (and items table) as CSV with a config.yaml a newcomer would write.

    The config names the columns and nothing else: every other setting is the default.

    Returns:
      The path of config.yaml.
    """
    data = generate(spec)
    os.makedirs(directory, exist_ok=True)
    data["interactions"].to_csv(os.path.join(directory, "interactions.csv"), index=False)
    interactions = {"path": "interactions.csv", "user": "user_id", "item": "item_id"}
    if spec.rated:
        interactions["rating"] = "rating"
    if spec.timestamps:
        interactions["timestamp"] = "timestamp"
    config = {
        "name": spec.name,
        "task": "rating" if spec.rated else "retrieval",
        "interactions": interactions,
    }
    if data["items"] is not None:
        data["items"].to_csv(os.path.join(directory, "items.csv"), index=False)
        config["items"] = {
            "path": "items.csv",
            "id": "item_id",
            "categorical": ["genre", "author"],
            "numeric": ["year", "pages"],
        }
    path = os.path.join(directory, "config.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return path


def matrix(base: ShapeSpec | None = None) -> list[ShapeSpec]:
    """The shapes `recsearch bench shapes` runs: the base, then one thing changed at a time."""
    base = base or ShapeSpec()
    return [
        base,
        dataclasses.replace(base, items=1_000),
        dataclasses.replace(base, items=50_000),
        dataclasses.replace(base, rated=True),
        dataclasses.replace(base, sparse=True),
        dataclasses.replace(base, rated=True, sparse=True),
        dataclasses.replace(base, timestamps=False),
        dataclasses.replace(base, metadata=False),
    ]
