"""The MovieLens preset on the shared local copy (skipped when it is absent)."""

import os
import zipfile

import pytest

from recsearch.data import movielens, tables
from recsearch.errors import DataError

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "datasets")
MOVIELENS = os.path.abspath(os.path.join(DATA, "movielens-100k"))
needs_movielens = pytest.mark.skipif(
    not os.path.isfile(os.path.join(MOVIELENS, "u.data")), reason="MovieLens 100K not present"
)


@pytest.mark.movielens
@needs_movielens
def test_preset_reads_all_files():
    config = movielens.movielens_config(MOVIELENS)
    frame = tables.load_joined(config)
    assert len(frame) == 100_000
    assert frame["user_id"].nunique() == 943
    assert frame["item_id"].nunique() == 1682
    assert frame["item__title"].str.len().gt(0).all()
    assert set(frame["user__gender"]) == {"M", "F"}
    assert frame["item__comedy"].isin([0.0, 1.0]).all()


def test_missing_directory_names_the_file(tmp_path):
    with pytest.raises(DataError, match="u.data: MovieLens 100K file not found"):
        movielens.movielens_config(str(tmp_path))


def test_unpack_reads_a_local_archive(tmp_path):
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in movielens.FILES:
            z.writestr(f"ml-100k/{name}", f"{name} contents")
    dest = tmp_path / "out"
    dest.mkdir()
    movielens.unpack(str(archive), str(dest))
    assert (dest / "u.item").read_text() == "u.item contents"
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as z:
        z.writestr("ml-100k/u.data", "x")
    with pytest.raises(DataError, match="no u.item"):
        movielens.unpack(str(tmp_path / "bad.zip"), str(dest))
