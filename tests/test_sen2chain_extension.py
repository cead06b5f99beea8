"""The ``sen2chain`` STAC extension: its pystac class, its JSON Schema (the project's own file), the catalogue."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pystac
import pytest
from jsonschema import Draft7Validator
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension

from sen2val_stac.catalog import sen2chain_extension as S2C
from sen2val_stac.catalog.sen2chain_extension import SCHEMA_URI, Sen2ChainExtension, local_schemas
from sen2val_stac.core import constants as C
from sen2val_stac.tree import names


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(local_schemas()[SCHEMA_URI].read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def _stac_files(catalog: Path) -> dict[str, dict]:
    return {str(p.relative_to(catalog)): json.loads(p.read_text()) for p in catalog.rglob("*.json")
            if ".sen2val" not in p.parts}


def _sen2chain_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return {k for k in value if k.startswith(S2C.PREFIX)} | {k for v in value.values() for k in _sen2chain_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _sen2chain_keys(v)}
    return set()


# ---------------------------------------------------------------- the schema file

def test_local_schema_is_the_published_url(validator) -> None:
    path = local_schemas()[SCHEMA_URI]
    assert path.is_file() and path.as_posix().endswith("catalog_templates/" + S2C.SCHEMA_FILE)
    schema = validator.schema
    Draft7Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_URI + "#"
    assert schema["definitions"]["stac_extensions"]["properties"]["stac_extensions"]["contains"]["const"] == SCHEMA_URI
    assert set(schema["definitions"]["fields"]["properties"]) == set(S2C.FIELDS)


def test_schema_patterns_are_the_name_parser_patterns(validator) -> None:
    """The schema accepts what tree/names.py parses: the same regular expressions, capture groups aside."""
    def ungrouped(rx: re.Pattern[str]) -> str:
        return re.sub(r"\(\?P<\w+>|[()]", "", rx.pattern)
    definitions = validator.schema["definitions"]
    props = definitions["fields"]["properties"]
    assert definitions["index"]["pattern"] == names.INDEX_RE.pattern
    assert definitions["mask"]["pattern"] == names.MASK_RE.pattern
    assert props[S2C.TILE]["pattern"] == ungrouped(names.TILE_RE)
    assert props[S2C.PRODUCT_ID]["pattern"] == ungrouped(names.PRODUCT_ID_RE)


# ---------------------------------------------------------------- the catalogue

def test_demo_objects_declare_and_validate(demo, validator) -> None:
    catalog, _ = demo
    files = _stac_files(catalog)
    declaring = {path: doc for path, doc in files.items() if doc["type"] in ("Feature", "Collection")}
    assert len(declaring) == 33
    for path, doc in declaring.items():
        assert SCHEMA_URI in doc["stac_extensions"], path
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, (path, errors)
        assert _sen2chain_keys(doc) <= set(S2C.FIELDS), path
    item = files["ndvi/40KCB/NDVI_40KCB_20220104.json"]
    assert item["properties"][S2C.INDEX] == "NDVI" and item["properties"][S2C.TILE] == "40KCB"
    assert item["properties"][S2C.MASKS] == ["CM001", "CM003-PRB1-ITER5"]
    assert item["assets"]["masked-cm001"][S2C.MASK] == "CM001" and S2C.MASK not in item["assets"]["index"]
    coll = files["ndvi/collection.json"]
    assert coll[S2C.FORMULA] == "(B08 - B04) / (B08 + B04)" and coll[S2C.BANDS] == ["B04", "B08"]
    assert coll["summaries"][S2C.MASKS] == ["CM001", "CM003-PRB1-ITER5"]
    assert "stac_extensions" not in files["catalog.json"]


def test_written_json_reads_back_through_pystac_unchanged(demo) -> None:
    catalog, _ = demo
    item = json.loads((catalog / "ndvi/40KCB/NDVI_40KCB_20220104.json").read_text())
    back = pystac.Item.from_dict(copy.deepcopy(item), migrate=False).to_dict(transform_hrefs=False)
    assert back == item
    ext = Sen2ChainExtension.ext(pystac.Item.from_dict(item))
    assert (ext.index, ext.tile, ext.masks) == ("NDVI", "40KCB", ["CM001", "CM003-PRB1-ITER5"])
    coll = json.loads((catalog / "ndvi/collection.json").read_text())
    assert pystac.Collection.from_dict(copy.deepcopy(coll), migrate=False).to_dict(transform_hrefs=False) == coll


@pytest.mark.parametrize("fault, fragment", [
    (lambda d: d["properties"].update({"sen2chain:cloud": 3}), "sen2chain:cloud"),
    (lambda d: d["properties"].update({S2C.TILE: "40kcb"}), "40kcb"),
    (lambda d: d["properties"].update({S2C.MASKS: ["CM001", "CM001"]}), "non-unique"),
    (lambda d: d["properties"].pop(S2C.INDEX), "sen2chain:index"),
    (lambda d: d["assets"]["masked-cm001"].update({S2C.MASK: "clouds"}), "clouds"),
    (lambda d: d["stac_extensions"].remove(SCHEMA_URI), "stac_extensions"),
])
def test_schema_rejects_faulty_items(demo, validator, fault, fragment) -> None:
    item = json.loads((demo[0] / "ndvi/40KCB/NDVI_40KCB_20220104.json").read_text())
    assert validator.is_valid(item)
    fault(item)
    messages = " ".join(e.message for e in validator.iter_errors(item)) + " " + " ".join(
        c.message for e in validator.iter_errors(item) for c in e.context)
    assert fragment in messages


def test_schema_rejects_faulty_collection(demo, validator) -> None:
    coll = json.loads((demo[0] / "ndvi/collection.json").read_text())
    assert validator.is_valid(coll)
    bad = copy.deepcopy(coll)
    bad[S2C.BANDS] = ["B99"]
    assert not validator.is_valid(bad)
    bad = copy.deepcopy(coll)
    bad["summaries"]["sen2chain:tile"] = ["40KCB"]
    assert not validator.is_valid(bad)


def test_declared_extension_versions_are_mirrored_or_ours(demo, schemas_dir) -> None:
    """Every schema the catalogue declares can be validated offline: the mirror, or the project's own file."""
    declared = {uri for doc in _stac_files(demo[0]).values() for uri in doc.get("stac_extensions", [])}
    assert SCHEMA_URI in declared and C.PROCESSING in declared
    for uri in declared - set(local_schemas()):
        assert (schemas_dir / uri.split("://", 1)[1]).is_file(), uri


def test_constants_agree_with_pystac() -> None:
    assert pystac.get_stac_version() == C.STAC_VERSION
    assert FileExtension.get_schema_uri() == C.FILE
    assert ProjectionExtension.get_schema_uri() == C.PROJECTION


# ---------------------------------------------------------------- the pystac class

def _item() -> pystac.Item:
    from datetime import datetime, timezone
    return pystac.Item("NDVI_40KCB_20220104", None, None, datetime(2022, 1, 4, tzinfo=timezone.utc), {})


def test_extension_class_on_item_asset_collection() -> None:
    item = _item()
    with pytest.raises(pystac.ExtensionNotImplemented):
        Sen2ChainExtension.ext(item)
    ext = Sen2ChainExtension.ext(item, add_if_missing=True)
    ext.index, ext.tile, ext.masks = "NDVI", "40KCB", ["CM001"]
    assert item.stac_extensions == [SCHEMA_URI] and Sen2ChainExtension.has_extension(item)
    assert item.properties == {S2C.INDEX: "NDVI", S2C.TILE: "40KCB", S2C.MASKS: ["CM001"]}
    ext.masks = None
    assert S2C.MASKS not in item.properties
    asset = pystac.Asset("x.jp2")
    item.add_asset("masked-cm001", asset)
    asset_ext = Sen2ChainExtension.ext(asset)
    asset_ext.mask = "CM001"
    assert asset.extra_fields == {S2C.MASK: "CM001"} and asset_ext.index == "NDVI"  # read from the owning item
    with pytest.raises(pystac.ExtensionTypeError):
        Sen2ChainExtension.ext(pystac.Catalog("c", "d"))  # type: ignore[call-overload]


def test_extension_class_on_collection_and_summaries() -> None:
    from datetime import datetime, timezone
    extent = pystac.Extent(pystac.SpatialExtent([[0, 0, 1, 1]]),
                           pystac.TemporalExtent([[datetime(2022, 1, 1, tzinfo=timezone.utc), None]]))
    coll = pystac.Collection("ndvi", "NDVI", extent)
    ext = Sen2ChainExtension.ext(coll, add_if_missing=True)
    ext.index, ext.formula, ext.bands = "NDVI", "(B08 - B04) / (B08 + B04)", ["B04", "B08"]
    Sen2ChainExtension.summaries(coll).masks = ["CM001"]
    d = coll.to_dict(transform_hrefs=False)
    assert d[S2C.INDEX] == "NDVI" and d[S2C.BANDS] == ["B04", "B08"] and d["summaries"] == {S2C.MASKS: ["CM001"]}
    assert Sen2ChainExtension.summaries(coll).masks == ["CM001"]
    with pytest.raises(pystac.ExtensionTypeError):
        Sen2ChainExtension.summaries(_item())  # type: ignore[arg-type]


def test_vocabulary_imports_without_pystac() -> None:
    """Readers of catalogue JSON (catalog.read, the validator) get the field names without importing pystac."""
    import subprocess
    import sys
    code = ("import sys, sen2val_stac.catalog.sen2chain_fields as f, sen2val_stac.catalog.read; "
            "assert 'pystac' not in sys.modules, 'pystac imported'; print(f.SCHEMA_URI)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == SCHEMA_URI
    from sen2val_stac.catalog import sen2chain_fields
    assert S2C.FIELDS is sen2chain_fields.FIELDS and S2C.local_schemas is sen2chain_fields.local_schemas  # re-exported
