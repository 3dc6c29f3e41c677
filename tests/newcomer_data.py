"""Small generated logs shaped like a newcomer's own data, for the config matrix test.

Each log has tastes (users prefer one of a few item groups), so a model can
learn something; every optional part of the config can be switched on or off.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import yaml


@dataclasses.dataclass(frozen=True)
class Log:
    """One combination of the config's optional parts.

    Attributes:
      rating: "all", "some" or "none" of the rows carry a rating ("none": no
        rating column at all).
      timestamp: Whether there is a timestamp column.
      items: Whether there is an items table; it then holds items absent
        from the log, and the log has items only in each user's newest rows.
      users: Whether there is a users table; it then lacks some users.
      empty_cells: Whether side tables have empty text, image, numeric and
        categorical cells.
      ids: "int", "str", "unicode" or "padded" (whitespace around ids).
      duplicates: Whether some events are repeated verbatim.
      task: The pipeline task.
      content: Whether items carry text and an image.
      weight: Whether rows carry a quantity (`interactions.weight`), some empty.
    """

    rating: str = "all"
    timestamp: bool = True
    items: bool = True
    users: bool = True
    empty_cells: bool = False
    ids: str = "str"
    duplicates: bool = False
    task: str = "retrieval"
    content: bool = False
    weight: bool = False

    @property
    def name(self) -> str:
        parts = [self.task, f"rating-{self.rating}", self.ids]
        parts += [flag for flag in ("timestamp", "items", "users") if getattr(self, flag)]
        flags = ("empty_cells", "duplicates", "content", "weight")
        parts += [flag for flag in flags if getattr(self, flag)]
        return "-".join(parts).replace("_", "")


def _id(kind: str, prefix: str, i: int) -> str:
    return {
        "int": str(i + 1),
        "str": f"{prefix}{i:03d}",
        "unicode": f"{prefix}é{i:03d}ü",
        "padded": f"  {prefix}{i:03d} ",
    }[kind]


def write(directory: str, log: Log, users: int = 60, items: int = 40, seed: int = 0) -> str:
    """Writes the log, its side tables and config.yaml under `directory`; returns the config."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    groups = 4
    logged_items = items - 4  # the last four items never occur in the log
    rows = []
    for u in range(users):
        taste = u % groups
        count = int(rng.integers(8, 16))
        pool = [i for i in range(logged_items - 2) if i % groups == taste]
        chosen = list(rng.choice(pool, size=min(count, len(pool)), replace=False))
        chosen += list(rng.choice(logged_items - 2, size=2))
        if u % 3 == 0:
            chosen.append(logged_items - 2 + u % 2)  # a newest-only item, last in time
        start = 1_700_000_000 + int(rng.integers(0, 86_400))
        for k, i in enumerate(chosen):
            rows.append((u, int(i), start + 3_600 * k))
    if log.duplicates:
        rows += rows[::7]
    header = ["user", "item"]
    if log.rating != "none":
        header.append("stars")
    if log.timestamp:
        header.append("ts")
    if log.weight:
        header.append("qty")
    lines = [",".join(header)]
    for n, (u, i, t) in enumerate(rows):
        cells = [_id(log.ids, "u", u), _id(log.ids, "i", i)]
        if log.rating != "none":
            rated = log.rating == "all" or n % 3 == 0
            cells.append(str(1 + (u + i) % 5) if rated else "")
        if log.timestamp:
            cells.append(str(t))
        if log.weight:
            cells.append("" if n % 5 == 0 else str(1 + (u * i) % 3))
        lines.append(",".join(_quote(c) for c in cells))
    _write(directory, "log.csv", lines)

    interactions = {"path": "log.csv", "user": "user", "item": "item"}
    if log.rating != "none":
        interactions["rating"] = "stars"
    if log.timestamp:
        interactions["timestamp"] = "ts"
    if log.weight:
        interactions["weight"] = "qty"
    config = {
        "name": "newcomer",
        "task": log.task,
        "interactions": interactions,
        "model": {"epochs": 2, "batch_size": 128, "embedding_dim": 8},
        "release": {"latency_budget_ms": None},
    }
    if log.items:
        config["items"] = _items_table(directory, log, items, rng)
    if log.users:
        config["users"] = _users_table(directory, log, users)
    with open(os.path.join(directory, "config.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False, allow_unicode=True)
    return os.path.join(directory, "config.yaml")


def _items_table(directory: str, log: Log, items: int, rng) -> dict:
    header = ["item_id", "genre", "price"]
    table = {"path": "items.csv", "id": "item_id", "categorical": ["genre"], "numeric": ["price"]}
    if log.content:
        header += ["title", "picture"]
        table.update(text=["title"], image="picture")
        os.makedirs(os.path.join(directory, "images"), exist_ok=True)
    lines = [",".join(header)]
    words = ["red", "blue", "lamp", "chair", "book", "song", "film", "shoe"]
    for i in range(items):
        empty = log.empty_cells and i % 5 == 0
        cells = [_id(log.ids, "i", i), "" if empty else f"g{i % 4}", "" if empty else f"{i + 0.5}"]
        if log.content:
            png = f"images/i{i:03d}.png"
            with open(os.path.join(directory, png), "wb") as f:
                f.write(_png(rng.integers(0, 255, size=(4, 4, 3), dtype=np.uint8)))
            title = f"{words[i % 8]} {words[(i // 8) % 8]}"
            cells += ["" if empty else title, "" if empty else png]
        lines.append(",".join(_quote(c) for c in cells))
    _write(directory, "items.csv", lines)
    return table


def _users_table(directory: str, log: Log, users: int) -> dict:
    lines = ["user_id,country,age"]
    for u in range(users - 5):  # the last five users are missing
        empty = log.empty_cells and u % 6 == 0
        lines.append(
            ",".join(
                [_quote(_id(log.ids, "u", u)), "" if empty else f"c{u % 3}", "" if empty else "30"]
            )
        )
    _write(directory, "users.csv", lines)
    return {"path": "users.csv", "id": "user_id", "categorical": ["country"], "numeric": ["age"]}


def _quote(cell: str) -> str:
    return f'"{cell}"' if cell != cell.strip() or "," in cell else cell


def _write(directory: str, name: str, lines: list[str]) -> None:
    with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()
