"""geoflow tables without R: what the export writes and why (geoflow itself judges them: test_geoflow_real.py).

The cell grammar reader (tests/geoflow_grammar.py) is kept to read cells here; whether the cells are
valid is geoflow's validator's call, in test_geoflow_real.py.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import pytest
import shapely
from geoflow_grammar import parse_cell
from lxml import etree
from shapely import wkt
from shapely.geometry import shape

from sen2val_stac.catalog.read import load_items
from sen2val_stac.cli import main
from sen2val_stac.config import load_config
from sen2val_stac.derive.geoflow import CONTACT_COLUMNS, ENTITY_COLUMNS, GeoflowError, write_geoflow


def _config(tmp_path: Path, extra: str = "") -> dict:
    path = tmp_path / "sen2val.yaml"
    path.write_text("root_href: https://data.example.org/stac/\n"
                    "doi:\n  NDVI_40KCB: 10.5281/zenodo.4242\n"
                    "geoflow:\n  publication_date: '2023-01-15'\n" + extra)
    return load_config(path)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _by_id(path: Path) -> dict[str, dict[str, str]]:
    return {parse_cell(r["Identifier"])[0].values[0].text: r for r in _rows(path)}


@pytest.fixture(scope="module")
def tables(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("geoflow")
    config = _config(out)
    files = write_geoflow(demo[0], out, config)
    return demo[0], files, config


def test_columns_counts_and_contact_keys(tables) -> None:
    _, files, _ = tables
    with open(files["entities"], encoding="utf-8") as f:
        assert next(csv.reader(f)) == ENTITY_COLUMNS
    rows = _by_id(files["entities"])
    assert len(rows) == 9  # 3 indices x 2 tiles + 3 per-index entities
    assert "data_40KCB_NDVI_SEN2CHAIN" in rows and "data_NDVI_SEN2CHAIN" in rows
    with open(files["contacts"], encoding="utf-8") as f:
        assert next(csv.reader(f)) == CONTACT_COLUMNS
    contacts = [r["Identifier"] for r in _rows(files["contacts"])]
    # geoflow's contact validator splits the Identifier as key:value; ESA comes from the STAC providers.
    assert contacts == ["id:sen2chain-producer", "id:european-space-agency-copernicus"]
    creators = {p.key: [v.text for v in p.values] for p in parse_cell(rows["data_40KCB_NDVI_SEN2CHAIN"]["Creator"])}
    assert creators["originator"] == ["european-space-agency-copernicus"] and "metadata" in creators


def test_cells_that_geoflow_would_otherwise_warn_about(tables) -> None:
    _, files, _ = tables
    for row in _rows(files["entities"]):
        assert row["SpatialCoverage"].startswith("ewkt:SRID=4326;")  # no "default key 'ewkt'" warning
        assert "topic" not in {p.key for p in parse_cell(row["Subject"])}  # not an ISO keyword type
        rights = {p.key: p.values[0].text for p in parse_cell(row["Rights"])}
        assert rights["license"] == "cc-by-4.0"  # Zenodo's licence id (zen4R looks it up)
        description = {p.key: p.values[0].text for p in parse_cell(row["Description"])}
        assert description["status"] == "onGoing"


def test_spatial_and_temporal_coverage(tables) -> None:
    catalog, files, _ = tables
    rows = _by_id(files["entities"])
    _, text = rows["data_38KQE_NDVI_SEN2CHAIN"]["SpatialCoverage"].removeprefix("ewkt:").split(";", 1)
    coverage = wkt.loads(text)
    items = load_items(catalog, index="NDVI", tile="38KQE")
    footprints = shapely.union_all([shape(r.item["geometry"]) for r in items])
    assert coverage.buffer(1e-3).contains(footprints)
    assert coverage.area == pytest.approx(footprints.area, rel=0.01)
    start, end = rows["data_38KQE_NDVI_SEN2CHAIN"]["TemporalCoverage"].split("/")
    instants = sorted(r.item["properties"]["datetime"] for r in items)
    assert (start, end) == (instants[0], instants[-1]) and end.endswith("Z")
    assert datetime.fromisoformat(start.replace("Z", "+00:00")).tzinfo is not None
    doi = [p for p in parse_cell(rows["data_40KCB_NDVI_SEN2CHAIN"]["Identifier"]) if p.key == "doi"]
    assert doi[0].values[0].text == "10.5281/zenodo.4242"


def test_relations_are_http_and_self_contained_catalogues_have_none(demo, tables, tmp_path) -> None:
    _, files, _ = tables
    for row in _rows(files["entities"]):
        for part in parse_cell(row["Relation"]):
            assert part.values[0].uri.startswith("https://data.example.org/stac/")
    write_geoflow(demo[0], tmp_path, load_config(None))
    for row in _rows(tmp_path / "entities.csv"):
        assert row["Relation"] == "" and "file://" not in "".join(row.values())
        source = next(p for p in parse_cell(row["Data"]) if p.key == "source").values[0]
        assert Path(source.uri).is_file() and source.text == "collection.json"


def test_workflow_completing_action_and_facts(tables, tmp_path) -> None:
    catalog, files, _ = tables
    flow = json.loads(files["workflow"].read_text())
    assert flow["metadata"]["entities"] == [{"handler": "csv", "source": "entities.csv"}]
    assert flow["metadata"]["contacts"] == [{"handler": "csv", "source": "contacts.csv"}]
    assert flow["profile"]["options"]["skipDataDownload"] is True and "environment" not in flow["profile"]
    assert [a["id"] for a in flow["actions"]] == ["geometa-create-iso-19115", "sen2val-complete-iso-19115"]
    assert flow["actions"][1]["script"] == files["action"].name and files["action"].read_text().startswith("#")
    facts = json.loads(files["facts"].read_text())
    assert sorted(facts) == sorted(_by_id(files["entities"]))
    for fact in facts.values():
        grid = etree.fromstring(fact["spatialRepresentationInfo"].encode())
        assert len(grid.findall(".//{http://www.isotc211.org/2005/gmd}MD_Dimension")) == 2
        codes = [etree.fromstring(x.encode()).findtext(".//{http://www.isotc211.org/2005/gco}CharacterString")
                 for x in fact["referenceSystemInfo"]]
        assert codes and all(c.startswith("327") for c in codes)
    config = _config(tmp_path, "  actions: {iso19115: true, csw: true, geonetwork: true, zenodo: true}\n")
    out = tmp_path / "all"
    write_geoflow(catalog, out, config)
    flow = json.loads((out / "workflow.json").read_text())
    assert [a["id"] for a in flow["actions"]] == ["geometa-create-iso-19115", "sen2val-complete-iso-19115",
                                                  "ows4R-publish-iso-19139", "geonapi-publish-iso-19139",
                                                  "zen4R-deposit-record"]
    assert flow["profile"]["environment"] == {"file": ".env"}
    secrets = {s["software_type"]: s["parameters"] for s in flow["software"]}
    assert secrets["zenodo"]["token"] == "{{ ZENODO_TOKEN }}" and secrets["csw"]["pwd"] == "{{ CSW_PASSWORD }}"


def test_bad_contact_id(demo, tmp_path) -> None:
    config = load_config(None)  # the config loader refuses such an id too; a config built in code may not
    config["contacts"][0]["id"] = "has space"
    with pytest.raises(GeoflowError, match="has space"):
        write_geoflow(demo[0], tmp_path, config)


def test_cli(demo, tmp_path) -> None:
    assert main(["geoflow", str(demo[0]), "--out", str(tmp_path), "--no-per-index"]) == 0
    assert len(_rows(tmp_path / "entities.csv")) == 6
    bad = tmp_path / "bad.yaml"
    bad.write_text("contacts:\n  - id: 'has space'\n    roles: [owner]\n")
    assert main(["geoflow", str(demo[0]), "--out", str(tmp_path), "--config", str(bad)]) == 2
