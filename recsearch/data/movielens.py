"""The MovieLens 100K preset: a config over the original `u.data`, `u.item`, `u.user` files.

The data set's licence forbids redistribution, so recsearch never ships it:
point `--data-dir` at a local copy, or call `download` where a network exists.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import zipfile

from recsearch import config as config_lib
from recsearch.errors import DataError

NAME = "movielens-100k"
URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
FILES = ("u.data", "u.item", "u.user")
GENRES = (
    "unknown action adventure animation children comedy crime documentary drama fantasy "
    "film_noir horror musical mystery romance sci_fi thriller war western"
).split()


def check_dir(data_dir: str) -> None:
    """Raises DataError naming the first MovieLens file missing from `data_dir`."""
    for name in FILES:
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            raise DataError(
                "MovieLens 100K file not found; pass --data-dir with u.data, u.item and u.user",
                path,
            )


def config_dict(data_dir: str, task: str = "retrieval") -> dict:
    """The preset as plain config data (what a YAML file would hold)."""
    return {
        "name": "movielens" if task == "retrieval" else f"movielens-{task}",
        "task": task,
        "interactions": {
            "path": os.path.join(data_dir, "u.data"),
            "format": "tsv",
            "header": False,
            "columns": ["user_id", "item_id", "rating", "timestamp"],
            "user": "user_id",
            "item": "item_id",
            "rating": "rating",
            "timestamp": "timestamp",
        },
        "items": {
            "path": os.path.join(data_dir, "u.item"),
            "format": "csv",
            "sep": "|",
            "header": False,
            "encoding": "latin-1",
            "columns": [
                "item_id",
                "title",
                "release_date",
                "video_release_date",
                "imdb_url",
                *GENRES,
            ],
            "id": "item_id",
            "text": ["title"],
            "numeric": list(GENRES),
        },
        "users": {
            "path": os.path.join(data_dir, "u.user"),
            "format": "csv",
            "sep": "|",
            "header": False,
            "columns": ["user_id", "age", "gender", "occupation", "zip_code"],
            "id": "user_id",
            "categorical": ["gender", "occupation"],
            "numeric": ["age"],
        },
        "split": {"method": "temporal", "eval_fraction": 0.2, "seed": 42},
        "model": {"embedding_dim": 64, "batch_size": 1024, "epochs": 20, "learning_rate": 0.005},
    }


def movielens_config(data_dir: str, task: str = "retrieval") -> config_lib.PipelineConfig:
    """The preset as a checked PipelineConfig.

    Raises:
      DataError: A MovieLens file is missing from `data_dir`.
    """
    data_dir = os.path.abspath(data_dir)
    check_dir(data_dir)
    return config_lib.config_from_dict(config_dict(data_dir, task), base_dir=data_dir, origin=NAME)


def download(dest: str, url: str = URL) -> str:
    """Downloads and unpacks MovieLens 100K into `dest` (needs a network).

    Returns:
      The directory holding u.data, u.item and u.user.
    """
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, "ml-100k.zip")
        with urllib.request.urlopen(url) as response, open(archive, "wb") as f:
            shutil.copyfileobj(response, f)
        return unpack(archive, dest)


def unpack(archive: str, dest: str) -> str:
    """Extracts the three preset files from a MovieLens 100K zip into `dest`.

    Raises:
      DataError: The archive lacks one of the files.
    """
    with zipfile.ZipFile(archive) as z:
        members = {os.path.basename(n): n for n in z.namelist()}
        for name in FILES:
            if name not in members:
                raise DataError(f"the archive has no {name}", archive)
            with z.open(members[name]) as src, open(os.path.join(dest, name), "wb") as out:
                shutil.copyfileobj(src, out)
    return dest
