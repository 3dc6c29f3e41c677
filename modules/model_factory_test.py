"""The factory's choice of model: "auto" falls back from EASE to the two-tower model."""

import dataclasses

from recsearch.config import Model
from recsearch.modules import model_factory
from recsearch.modules.features import FeatureSpec
from recsearch.modules.models.ease import EASE, MAX_ITEMS
from recsearch.modules.models.two_tower import TwoTowerModel
from recsearch.testing import tiny_catalog


def _build(name, num_items, chosen="auto"):
    hparams = dataclasses.asdict(dataclasses.replace(Model(name=chosen), embedding_dim=4))
    catalog = tiny_catalog([[0, 1], [1, 2]], num_items=num_items)
    sizes = {"user_id": catalog.num_users, "item_id": catalog.num_items}
    return model_factory.build_model(name, hparams, FeatureSpec(), sizes, 0, catalog)


def test_auto_takes_ease_up_to_its_limit_and_the_two_tower_model_beyond():
    assert isinstance(_build("ease", 5), EASE)
    assert isinstance(_build("ease", MAX_ITEMS + 1), TwoTowerModel)
