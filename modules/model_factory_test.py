"""The factory builds each family of the registry from its own config, and nothing else."""

import dataclasses

import pytest

from recsearch import model_registry
from recsearch.config import Model
from recsearch.features import FeatureSpec
from recsearch.model_registry import EASE_MAX_ITEMS
from recsearch.modules import model_factory
from recsearch.modules.models.ease import EASE
from recsearch.testing import tiny_catalog


def _build(name, num_items, **settings):
    model = dataclasses.replace(Model(), embedding_dim=4, **settings)
    catalog = tiny_catalog([[0, 1], [1, 2]], num_items=num_items)
    sizes = {"user_id": catalog.num_users, "item_id": catalog.num_items}
    parts = model_factory.Parts(FeatureSpec(), sizes, 0, catalog)
    return model_factory.build_model(name, model, parts)


def test_every_family_has_its_builder():
    for family in model_registry.FAMILIES.values():
        assert callable(getattr(model_factory, family.builder)), family.name


def test_ease_is_built_from_its_own_settings():
    model = _build("ease", 5, ease_l2=7.0, recency_half_life=3.0)
    assert isinstance(model, EASE)
    assert (model.l2, model.recency_half_life) == (7.0, 3.0)


def test_ease_beyond_its_cap_is_refused_not_swapped_for_another_family():
    """auto skips EASE above its cap before building (selection); asked for, it fails."""
    with pytest.raises(ValueError, match="dense"):
        _build("ease", EASE_MAX_ITEMS + 1)
    assert model_registry.family("ease").max_items == EASE_MAX_ITEMS


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(KeyError, match="two_tower"):
        _build("lightgcn", 5)


def test_a_family_config_holds_exactly_what_it_reads():
    ease = model_registry.family("ease").config_class
    names = {f.name for f in dataclasses.fields(ease)}
    assert {"ease_l2", "recency_half_life", "epochs"} <= names
    assert "temperature" not in names and "mixed_negatives" not in names
    # Defaults come from config.Model, written once.
    assert ease().ease_l2 == Model().ease_l2
