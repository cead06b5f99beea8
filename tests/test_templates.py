"""Index definitions in catalog_templates/indices/ are complete and consistent."""

from __future__ import annotations

import pytest

from sen2val_stac.templates import index_definition, known_indices, load_json

SEN2CHAIN_INDICES = ["BIBG", "BIGR", "BIRNIR", "EVI", "IRECI", "MNDWI", "NBR", "NDBI", "NDRE", "NDVI", "NDWIGAO", "NDWIMCF"]


def test_every_sen2chain_index_is_defined() -> None:
    assert known_indices() == SEN2CHAIN_INDICES


@pytest.mark.parametrize("index", SEN2CHAIN_INDICES)
def test_definition_keys_and_encoding(index: str) -> None:
    reference = set(load_json("indices/NDVI.json"))
    data = load_json(f"indices/{index}.json")
    assert set(data) == reference
    definition = index_definition(index.lower())
    assert definition["known"] and definition["index"] == index
    assert all(band in definition["formula"] for band in definition["bands"])
    if definition["scale"] is not None:
        assert definition["scale"] * definition["valid_range"][1] == pytest.approx(1.0)
    else:
        assert definition["valid_range"] is None and "digital numbers" in definition["description"]


def test_unknown_index_gets_generic_definition() -> None:
    definition = index_definition("xyz1")
    assert not definition["known"] and definition["title"] == "XYZ1 radiometric index"
    assert "XYZ1" in definition["keywords"] and definition["scale"] is None
