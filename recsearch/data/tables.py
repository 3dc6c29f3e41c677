"""Loading the interactions and side tables of a config into one typed, joined frame."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from recsearch import features as keys
from recsearch.config import EntitySource, PipelineConfig
from recsearch.data import sources, spans
from recsearch.errors import DataError, Problems, RecsearchError, report


def load_interactions(
    config: PipelineConfig, pattern: str | list[str] | None = None
) -> pd.DataFrame:
    """Reads the interaction log into the canonical columns.

    Args:
      config: The pipeline config.
      pattern: Overrides the configured path: one pattern, or several (the
        spans of a window). By default the configured path; a `{SPAN}` path
        reads its newest span.

    Returns:
      A frame with user_id and item_id (str), and where configured rating
      (float, NaN when empty), timestamp (int64 unix seconds), event and
      session_id (str), plus `_file` and `_row`.

    Raises:
      DataError: On a missing file or column, or a bad value in a row.
    """
    src = config.interactions
    if pattern is None:
        pattern = config.resolve(src.path)
        if spans.has_spans(pattern):
            _, pattern = spans.select(pattern, None, src.span_window)
    if isinstance(pattern, list):
        parts = [load_interactions(config, p) for p in pattern]
        return pd.concat(parts, ignore_index=True)
    raw = sources.read_source(src, pattern, interaction_columns(config).values())
    out = interactions_from_raw(config, raw)
    if config.task == "rating" and out.empty:
        raise DataError("no row has a rating, but task is 'rating'", pattern, column=src.rating)
    return out


def interaction_columns(config: PipelineConfig) -> dict[str, str]:
    """The canonical interaction columns the config reads, and their columns in the file."""
    src = config.interactions
    wanted = {keys.USER_ID: src.user, keys.ITEM_ID: src.item}
    optional = {
        keys.RATING: src.rating,
        keys.TIMESTAMP: src.timestamp,
        keys.EVENT: src.event,
        keys.SESSION: src.session,
        keys.WEIGHT: src.weight,
    }
    wanted.update({k: v for k, v in optional.items() if v})
    return wanted


def interactions_from_raw(
    config: PipelineConfig, raw: pd.DataFrame, units: set[str] | None = None
) -> pd.DataFrame:
    """Typed canonical columns of raw interaction rows (strings, with `_file` and `_row`).

    Works on any part of the log (a chunk of a file): for the rating task,
    rows without a rating are left out. `units` collects the unit the
    timestamps were read in ("seconds" or "milliseconds").
    """
    src = config.interactions
    out = pd.DataFrame(
        {
            keys.USER_ID: sources.text_column(raw, src.user, required=True),
            keys.ITEM_ID: sources.text_column(raw, src.item, required=True),
        }
    )
    if src.rating:
        out[keys.RATING] = sources.numeric_column(raw, src.rating)
    if src.timestamp:
        out[keys.TIMESTAMP] = sources.timestamp_column(
            raw, src.timestamp, src.timestamp_format, units=units
        )
    if src.event:
        out[keys.EVENT] = sources.text_column(raw, src.event, required=False)
    if src.session:
        out[keys.SESSION] = sources.text_column(raw, src.session, required=False)
    if src.weight or src.event_weights:
        weight = sources.weight_column(raw, src.weight) if src.weight else 1.0
        if src.event_weights and src.event:
            weight = weight * sources.mapped_column(raw, src.event, src.event_weights, "event type")
        out[keys.WEIGHT] = pd.Series(weight, index=out.index, dtype="float64")
    if config.task == "rating":
        unrated = out[keys.RATING].isna()
        if unrated.any():
            logging.info(
                "%s: %d rows without a rating are left out", raw["_file"].iloc[0], unrated.sum()
            )
            out, raw = out[~unrated], raw[~unrated]
    out["_file"] = raw["_file"].to_numpy()
    out["_row"] = raw["_row"].to_numpy()
    return out.reset_index(drop=True)


def load_entities(config: PipelineConfig, entity: str) -> pd.DataFrame | None:
    """Reads the users or items side table, indexed by id, with typed feature columns.

    Returns:
      None when the side table is not configured; otherwise a frame indexed by
      id with one column per feature, named `<entity>__<column>`.

    Raises:
      DataError: On a missing file or column, a bad value or a duplicate id.
    """
    src: EntitySource | None = getattr(config, f"{entity}s")
    if src is None:
        return None
    pattern = config.resolve(src.path)
    columns = [src.id, *src.categorical, *src.hashed, *src.numeric, *src.text]
    if src.image:
        columns.append(src.image)
    raw = sources.read_source(src, pattern, columns)
    ids = sources.text_column(raw, src.id, required=True)
    dup = ids.duplicated()
    if dup.any():
        first = int(np.argmax(dup.to_numpy()))
        report(
            DataError(
                f"duplicate id {ids.iloc[first]!r}",
                str(raw["_file"].iloc[first]),
                column=src.id,
                row=int(raw["_row"].iloc[first]),
            )
        )
        raw, ids = raw[~dup.to_numpy()], ids[~dup]
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="id"))
    for column in (*src.categorical, *src.hashed, *src.text):
        out[keys.side_feature(entity, column)] = sources.text_column(raw, column, False).to_numpy()
    for column in src.numeric:
        values = sources.numeric_column(raw, column)
        values = sources.fill_missing_numeric(values, f"{pattern} column '{column}'")
        out[keys.side_feature(entity, column)] = values.to_numpy()
    if src.image:
        out[keys.IMAGE] = read_images(raw, src.image)
    return out


def read_images(raw: pd.DataFrame, column: str) -> np.ndarray:
    """Encoded image bytes for each row: the cell is a path relative to its table's folder.

    Empty cells give empty bytes (the model sees a blank image).

    Raises:
      DataError: A named image file does not exist.
    """
    paths = sources.text_column(raw, column, required=False)
    images = []
    for value, table, row in zip(paths, raw["_file"], raw["_row"]):
        if not value:
            images.append(b"")
            continue
        path = (
            value
            if os.path.isabs(value) or "://" in value
            else os.path.join(os.path.dirname(table), value)
        )
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme in ("http", "https", "ftp"):
            report(
                DataError(
                    f"{value}: images are read from files (a path relative to the table, an "
                    f"absolute path, gs:// or s3://), not downloaded over {scheme}; download "
                    "them and name the files",
                    table,
                    column,
                    int(row),
                )
            )
            images.append(b"")
            continue
        try:
            with sources.open_file(path) as f:
                data = f.read()
        except (OSError, FileNotFoundError):
            report(DataError(f"image file not found: {value}", table, column, int(row)))
            data = b""
        except Exception as error:  # a TensorFlow filesystem's own error (tf.errors.OpError)
            report(DataError(f"cannot read {value}: {error}", table, column, int(row)))
            data = b""
        if data and not data.startswith(_IMAGE_SIGNATURES):
            report(
                DataError(f"{value} is not a PNG, JPEG, GIF or BMP image", table, column, int(row))
            )
            data = b""
        images.append(data)
    return np.array(images, dtype=object)


_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def side_defaults(side: pd.DataFrame) -> dict[str, object]:
    """What an id absent from a side table gets: the column mean, or empty text/bytes."""
    return {
        column: side[column].mean()
        if pd.api.types.is_float_dtype(side[column])
        else (b"" if column == keys.IMAGE else "")
        for column in side.columns
    }


def join_side_features(
    interactions: pd.DataFrame,
    side: pd.DataFrame | None,
    entity: str,
    defaults: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Adds the side columns of each interaction's user or item.

    Ids absent from the side table get `defaults` (by default `side_defaults`
    of `side`; pass the whole table's when `side` is a part of it), and are
    counted in the log.
    """
    if side is None:
        return interactions
    id_column = keys.USER_ID if entity == "user" else keys.ITEM_ID
    joined = interactions.join(side, on=id_column)
    unknown = ~interactions[id_column].isin(side.index)
    if unknown.any():
        logging.info(
            "%d interactions name %ss missing from the %ss table; they get empty side features",
            int(unknown.sum()),
            entity,
            entity,
        )
        fill = side_defaults(side) if defaults is None else defaults
        for column in side.columns:
            joined[column] = joined[column].fillna(fill[column])
    return joined


def load_joined(config: PipelineConfig, pattern: str | list[str] | None = None) -> pd.DataFrame:
    """The interaction log with every user and item side feature joined in."""
    return load_all(config, pattern)[0]


def _checked(load, *args):
    """`load(*args)`; a problem that stops it is reported, so the other tables are checked too."""
    try:
        return load(*args)
    except RecsearchError as error:
        report(error)
        return None


def load_all(
    config: PipelineConfig, pattern: str | list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The joined interaction log, and the item catalog (None without an items table).

    The catalog has one row per item of the items table, with the item
    features and empty interaction and user fields, so it encodes like an
    interaction; items with no interaction yet are served from it.
    """
    interactions = _checked(load_interactions, config, pattern)
    users, items = _checked(load_entities, config, "user"), _checked(load_entities, config, "item")
    if interactions is None:
        raise Problems([])  # already reported (only inside `collecting()` do we get here)
    frame = join_side_features(join_side_features(interactions, users, "user"), items, "item")
    if items is None:
        return frame, None
    kinds = {
        column: "float"
        if pd.api.types.is_float_dtype(frame[column])
        else "int"
        if pd.api.types.is_integer_dtype(frame[column])
        else "bytes"
        for column in frame.columns
        if not column.startswith("_")
    }
    return frame, catalog_frame(items, users, kinds)


def catalog_frame(
    items: pd.DataFrame, users: pd.DataFrame | None, columns: dict[str, str]
) -> pd.DataFrame:
    """One row per item of the items table, shaped like a joined interaction.

    Args:
      items: The items table (`load_entities`).
      users: The users table, or None: a catalog row's user features are
        those of an unknown user (empty text, the table's mean).
      columns: The joined log's columns and their kinds (float, int, bytes).
    """
    catalog = items.reset_index().rename(columns={"id": keys.ITEM_ID})
    for column, kind in columns.items():
        if column in catalog.columns:
            continue
        if kind == "float":
            known = users is not None and column in users.columns
            catalog[column] = users[column].mean() if known else np.nan
        elif kind == "int":
            catalog[column] = 0
        else:
            catalog[column] = ""
    return catalog[list(columns)]
