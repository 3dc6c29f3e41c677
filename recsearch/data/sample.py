"""A deterministic generator of a small shop: users, a catalog with text and images, events.

The data has planted structure so that a personalised model measurably beats
popularity: each user has tastes over categories (which drift with age),
items differ in quality and in a heavy-tailed popularity, sessions stay in one
category, and views escalate to carts, purchases and ratings more often when
the user likes the category and the item is good. Some items are released
late, so the catalog and popularity shift over time.
"""

from __future__ import annotations

import dataclasses
import io
import os
from importlib import resources

import numpy as np
import pandas as pd

CATEGORIES = {
    "electronics": "wireless headphones charger speaker cable smart bluetooth portable usb camera",
    "books": "novel mystery history cookbook guide poetry fantasy biography paperback edition",
    "home": "lamp pillow blanket mug candle vase rug shelf ceramic cozy",
    "garden": "planter seeds hose shovel gloves pruner soil lantern bench compost",
    "toys": "puzzle blocks doll robot kite plush boardgame marbles yoyo train",
    "fashion": "jacket scarf sneakers dress belt hat denim wool leather socks",
    "sports": "yoga mat dumbbell bottle running helmet racket ball bike fitness",
    "beauty": "serum lotion lipstick shampoo perfume mask cream brush nail soap",
}
_COLORS = [
    (40, 90, 200),
    (150, 90, 40),
    (200, 170, 60),
    (40, 150, 60),
    (220, 60, 60),
    (150, 50, 170),
    (30, 170, 170),
    (230, 120, 170),
]
_ADJECTIVES = "classic deluxe mini pro eco premium vintage compact ultra essential".split()
_FILLER = "for everyday use with great value and a modern design in a gift box".split()
_COUNTRIES = ["US", "DE", "FR", "UK", "IN", "BR"]
_START = 1_788_220_800  # 2026-09-01T00:00:00Z


@dataclasses.dataclass(frozen=True)
class SampleSpec:
    """Size of the generated shop."""

    users: int = 1000
    items: int = 400
    days: int = 60
    mean_sessions: float = 4.0
    seed: int = 7


def generate(spec: SampleSpec | None = None) -> dict[str, pd.DataFrame | dict[str, bytes]]:
    """Generates the shop (default size when `spec` is None).

    Returns:
      {"users": frame, "items": frame, "interactions": frame, "images": {file: png}}.
    """
    spec = spec or SampleSpec()
    rng = np.random.default_rng(spec.seed)
    names = list(CATEGORIES)
    n_cat = len(names)

    users = pd.DataFrame(
        {
            "user_id": [f"u{i:05d}" for i in range(spec.users)],
            "age": rng.integers(18, 71, spec.users),
            "country": rng.choice(_COUNTRIES, spec.users, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1]),
        }
    )
    # Tastes: a sparse Dirichlet draw, tilted by age so that age is informative.
    age01 = (users["age"].to_numpy() - 18) / 52.0
    tilt = np.outer(age01, np.linspace(-1.5, 1.5, n_cat))
    taste = rng.dirichlet(np.full(n_cat, 0.25), spec.users) * np.exp(tilt)
    taste /= taste.sum(axis=1, keepdims=True)

    category = rng.integers(0, n_cat, spec.items)
    quality = rng.normal(0.0, 1.0, spec.items)
    popularity = 1.0 / (rng.permutation(spec.items) + 10.0) ** 0.8
    release_day = np.where(rng.random(spec.items) < 0.2, rng.integers(0, spec.days, spec.items), 0)
    base_price = np.array([80, 15, 30, 25, 20, 45, 35, 18], dtype=float)
    items = pd.DataFrame(
        {
            "item_id": [f"i{j:04d}" for j in range(spec.items)],
            "category": [names[c] for c in category],
            "title": [_title(rng, names[c]) for c in category],
            "description": [_description(rng, names[c]) for c in category],
            "price": np.round(base_price[category] * rng.lognormal(0.0, 0.4, spec.items), 2),
            "image": [f"images/i{j:04d}.png" for j in range(spec.items)],
        }
    )
    images = {
        f"images/i{j:04d}.png": _image(rng, category[j], quality[j]) for j in range(spec.items)
    }

    rows = []
    activity = rng.lognormal(0.0, 0.7, spec.users)
    appeal = popularity * np.exp(0.6 * quality)
    draws = _SessionDraws(appeal, release_day, category)
    for u in range(spec.users):
        n_sessions = max(1, rng.poisson(spec.mean_sessions * activity[u]))
        for s in range(n_sessions):
            day = rng.integers(0, spec.days)
            t = _START + day * 86400 + int(rng.integers(0, 86400))
            intent = rng.choice(n_cat, p=taste[u])
            n_views = int(rng.integers(1, 6))
            chosen = draws.distinct(rng, int(day), int(intent), n_views)
            for j in chosen:
                t += int(rng.integers(20, 400))
                rows.append((u, j, "view", np.nan, t, f"s{u:05d}_{s:03d}"))
                affinity = np.log(taste[u, category[j]] * n_cat + 1e-9) + quality[j]
                if rng.random() < _sigmoid(affinity - 2.0):
                    t += int(rng.integers(20, 200))
                    rows.append((u, j, "cart", np.nan, t, f"s{u:05d}_{s:03d}"))
                    if rng.random() < _sigmoid(affinity - 1.0):
                        t += int(rng.integers(20, 200))
                        stars = np.clip(np.round(3.2 + 0.5 * affinity + rng.normal(0, 0.6)), 1, 5)
                        rows.append((u, j, "purchase", stars, t, f"s{u:05d}_{s:03d}"))
    u_idx, i_idx, event, rating, ts, session = map(np.array, zip(*rows))
    interactions = pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy()[u_idx],
            "item_id": items["item_id"].to_numpy()[i_idx],
            "event": event,
            "rating": rating,
            "timestamp": ts,
            "session_id": session,
        }
    ).sort_values(["timestamp", "user_id"], kind="stable")
    return {"users": users, "items": items, "interactions": interactions, "images": images}


def write(directory: str, spec: SampleSpec | None = None) -> str:
    """Writes the shop as CSV files, PNG images and a config.yaml into `directory`.

    Returns:
      The path of the written config.yaml.
    """
    data = generate(spec)
    os.makedirs(os.path.join(directory, "images"), exist_ok=True)
    data["users"].to_csv(os.path.join(directory, "users.csv"), index=False)
    data["items"].to_csv(os.path.join(directory, "items.csv"), index=False)
    data["interactions"].to_csv(
        os.path.join(directory, "interactions.csv"), index=False, float_format="%g"
    )
    for name, png in data["images"].items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(png)
    config_path = os.path.join(directory, "config.yaml")
    with open(config_path, "w", encoding="utf-8") as f:
        f.write(default_config_text())
    return config_path


def default_config_text() -> str:
    """The shipped config of the sample shop (recsearch/configs/sample.yaml)."""
    return resources.files("recsearch").joinpath("configs/sample.yaml").read_text("utf-8")


class _SessionDraws:
    """A session's items: distinct draws weighted by appeal, in its intent, released by its day.

    The same draws, from the same random numbers, as
    `rng.choice(items, size, replace=False, p=weight / weight.sum())` with the weight
    built afresh for each session, which costs O(catalog) per session and made a 10M
    shop take most of an hour to generate. The first round's cumulative weights depend
    only on the (day, intent) pair, so they are computed once per pair; a session whose
    first round repeats an item redraws exactly as numpy does, from the full weights.
    """

    def __init__(self, appeal: np.ndarray, release_day: np.ndarray, category: np.ndarray):
        self._appeal, self._release_day, self._category = appeal, release_day, category
        self._cdfs: dict[tuple[int, int], np.ndarray] = {}
        self.redraws = 0  # sessions whose first round repeated an item

    def _weights(self, day: int, intent: int) -> np.ndarray:
        weight = self._appeal * (self._release_day <= day)
        weight = weight * np.where(self._category == intent, 1.0, 0.01)
        return weight / weight.sum()

    def distinct(self, rng: np.random.Generator, day: int, intent: int, size: int) -> np.ndarray:
        cdf = self._cdfs.get((day, intent))
        if cdf is None:
            cdf = np.cumsum(self._weights(day, intent))
            cdf /= cdf[-1]
            self._cdfs[day, intent] = cdf
        found = _first_occurrences(cdf.searchsorted(rng.random(size), side="right"))
        if found.size == size:
            return found
        self.redraws += 1
        p = self._weights(day, intent)
        while found.size < size:  # numpy's Generator.choice(replace=False, p=...) loop
            x = rng.random(size - found.size)
            p[found] = 0
            cdf = np.cumsum(p)
            cdf /= cdf[-1]
            found = np.concatenate([found, _first_occurrences(cdf.searchsorted(x, side="right"))])
        return found


def _first_occurrences(values: np.ndarray) -> np.ndarray:
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


def _title(rng: np.random.Generator, category: str) -> str:
    words = CATEGORIES[category].split()
    adjective = _ADJECTIVES[rng.integers(len(_ADJECTIVES))]
    a, b = rng.choice(words, 2, replace=False)
    return f"{adjective.title()} {a} {b}"


def _description(rng: np.random.Generator, category: str) -> str:
    words = CATEGORIES[category].split()
    picked = list(rng.choice(words, 4)) + list(rng.choice(_FILLER, 4))
    rng.shuffle(picked)
    return " ".join(picked).capitalize() + "."


def _image(rng: np.random.Generator, category: int, quality: float) -> bytes:
    from PIL import Image

    size = 16
    base = np.array(_COLORS[category], dtype=float)
    pixels = np.tile(base, (size, size, 1))
    stripe = (np.arange(size) // (2 + category % 3)) % 2
    pixels[stripe.astype(bool), :, :] *= 0.6 + 0.1 * np.tanh(quality)
    pixels += rng.normal(0, 12, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))
