"""The factory builds each family of the registry from its own config, and nothing else."""

import dataclasses
import sys

import pytest

from recsearch import model_registry
from recsearch.config import Model
from recsearch.config.trainer_settings import with_values
from recsearch.features import FeatureSpec
from recsearch.modules import model_factory
from recsearch.modules.models.ease import EASE, MAX_ITEMS
from recsearch.testing import tiny_catalog


def _build(name, num_items, **settings):
    model = with_values(Model(), {"embedding_dim": 4, **settings})
    catalog = tiny_catalog([[0, 1], [1, 2]], num_items=num_items)
    sizes = {"user_id": catalog.num_users, "item_id": catalog.num_items}
    parts = model_factory.Parts(FeatureSpec(), sizes, 0, catalog)
    return model_factory.build_model(name, model, parts)


def test_every_family_is_one_module_with_its_settings_and_builder():
    for family in model_registry.FAMILIES.values():
        module = f"recsearch.modules.models.{family.name}"
        assert issubclass(family.settings, model_registry.FamilySettings), family.name
        # The builder is the family's own, or a shared one its module registered.
        assert callable(family.build), family.name
        assert sys.modules[module].FAMILY is family, family.name


def test_ease_is_built_from_its_own_settings():
    model = _build("ease", 5, ease_l2=7.0, recency_half_life=3.0)
    assert isinstance(model, EASE)
    assert (model.l2, model.recency_half_life) == (7.0, 3.0)


def test_ease_beyond_its_cap_is_refused_not_swapped_for_another_family():
    """auto skips EASE above its cap before building (selection); asked for, it fails."""
    with pytest.raises(ValueError, match="dense"):
        _build("ease", MAX_ITEMS + 1)
    assert model_registry.family("ease").max_items == MAX_ITEMS


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(KeyError, match="two_tower"):
        _build("lightgcn", 5)


def test_a_family_config_holds_exactly_what_it_reads():
    ease = model_registry.family("ease")
    assert set(ease.own) == {"ease_l2", "recency_half_life", "ease_neighbors"}
    assert {f.name for f in dataclasses.fields(ease.settings)} == {"name", "seed", *ease.own}
    # The defaults are the family's own, written once: config.Model holds none of them.
    assert not {"ease_l2", "temperature"} & {f.name for f in dataclasses.fields(Model)}
    settings = ease.config(with_values(Model(seed=7), {"ease_l2": 50, "temperature": 0.3}))
    assert (settings.name, settings.seed, settings.ease_l2, settings.recency_half_life) == (
        "ease",
        7,
        50.0,
        0.0,
    )
