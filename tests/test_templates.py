"""Index definitions in catalog_templates/indices/ are complete and consistent."""

from __future__ import annotations

import re

import pytest

from sen2val_stac.core.templates import index_definition, known_indices, load_json

SEN2CHAIN_INDICES = ["BIBG", "BIGR", "BIRNIR", "EVI", "IRECI", "MNDWI", "NBR", "NDBI", "NDRE", "NDVI", "NDWIGAO", "NDWIMCF"]
CF_STANDARD_NAMES = {"NDVI": "normalized_difference_vegetation_index"}  # the only CF standard name among them


def test_every_sen2chain_index_is_defined() -> None:
    assert known_indices() == SEN2CHAIN_INDICES


@pytest.mark.parametrize("index", SEN2CHAIN_INDICES)
def test_definition_has_exactly_the_keys_of_ndvi(index: str) -> None:
    data = load_json(f"indices/{index}.json")
    assert list(data) == list(load_json("indices/NDVI.json"))
    assert all(isinstance(data[key], str) and data[key].strip() for key in ("title", "long_name", "description"))
    assert 4 <= len(data["keywords"]) <= 6 and len(set(data["keywords"])) == len(data["keywords"])
    assert data["standard_name"] == CF_STANDARD_NAMES.get(index)


@pytest.mark.parametrize("index", SEN2CHAIN_INDICES)
def test_formula_bands_and_encoding(index: str) -> None:
    definition = index_definition(index.lower())
    assert definition["known"] is True and definition["index"] == index
    assert sorted(set(re.findall(r"\bB\d{2}\b", definition["formula"]))) == sorted(definition["bands"])
    scale, low_high = definition["scale"], definition["valid_range"]
    if scale is None:  # stored as reflectance digital numbers: no packing at all
        assert definition["offset"] is None and definition["unit"] is None and low_high is None
        assert "reflectance digital numbers" in definition["description"]
    else:  # a ratio packed as integers: the valid range maps onto [-1, 1]
        assert definition["offset"] == 0.0 and definition["unit"] == "1"
        assert all(isinstance(v, int) for v in low_high) and low_high[0] < low_high[1]
        assert [v * scale for v in low_high] == pytest.approx([-1.0, 1.0])
        assert "scaled by 10000" in definition["description"]


def test_definitions_are_fresh_copies() -> None:
    index_definition("NDVI")["keywords"].append("changed")
    assert "changed" not in index_definition("NDVI")["keywords"]


def test_unknown_index_gets_generic_definition() -> None:
    definition = index_definition("xyz1")
    assert definition["known"] is False and definition["index"] == "XYZ1"
    assert set(definition) == set(load_json("indices/NDVI.json")) | {"known", "index"}
    assert definition["title"] == "XYZ1 radiometric index" and "{index}" not in definition["description"]
    assert "XYZ1" in definition["keywords"] and definition["scale"] is None and definition["formula"] is None
    assert "XYZ1" not in known_indices()
