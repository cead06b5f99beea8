"""Real geoflow 1.3.0 (R) runs the exported tables of two catalogues; its ISO records are valid and complete.

- ``demo``: the self-contained demo catalogue (no published URL);
- ``published``: the demo tree indexed with a publication config (root_href, asset_href_base, DOIs per
  index and per series, md_link_template, three contacts with different roles, names and addresses) and
  one NetCDF cube catalogued under netcdf.href_base.

geoflow runs twice per module (both catalogues at once, ``executeWorkflow`` with local actions only);
the publishing workflow (CSW, GeoNetwork, Zenodo) is checked by geoflow without connecting.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from geoflow_helpers import (
    GEOFLOW_OWN_WARNINGS,
    RUNNER,
    geoflow_missing,
    iso_fields,
    job_dir,
    run_geoflow,
    schema_errors,
)

from sen2val_stac.config import load_config
from sen2val_stac.derive.geoflow import write_geoflow
from sen2val_stac.derive.records import write_records

PUBLICATION = """\
root_href: https://data.example.org/stac/
asset_href_base: https://data.example.org/INDICES/
md_link_template: https://sdi.example.org/geonetwork/srv/eng/catalog.search#/metadata/{identifier}
doi:
  NDVI: 10.5281/zenodo.1000001
  NDVI_40KCB: 10.5281/zenodo.1000002
  MNDWI_38KQE: 10.5281/zenodo.1000003
netcdf:
  href_base: https://data.example.org/netcdf/
contacts:
  - id: espace-dev
    organisation: UMR ESPACE-DEV (IRD)
    email: data@espace-dev.example.org
    position: Data centre
    address: 40 avenue de Soweto
    postal_code: "97410"
    city: Saint-Pierre
    country: Réunion (France)
    phone: "+262 262 00 00 00"
    website: https://www.espace-dev.fr
    website_name: ESPACE-DEV
    roles: [owner, publisher, custodian]
  - id: jane.doe
    first_name: Jane
    last_name: Doe
    organisation: UMR ESPACE-DEV (IRD)
    position: Remote sensing engineer
    email: jane.doe@espace-dev.example.org
    city: Saint-Denis
    country: Réunion (France)
    roles: [pointOfContact, author, metadata]
  - id: seas-oi
    organisation: SEAS-OI receiving station
    email: contact@seas-oi.example.org
    address: 40 avenue de Soweto
    city: Saint-Pierre
    country: Réunion (France)
    website: https://www.seas-oi.org
    website_name: SEAS-OI
    roles: [distributor, processor]
"""
PUBLISHING = "geoflow:\n  actions: {iso19115: true, csw: true, geonetwork: true, zenodo: true}\n"

pytestmark = pytest.mark.skipif(bool(geoflow_missing()), reason=geoflow_missing() or "geoflow available")


def _published_catalogue(demo: tuple[Path, Any], root: Path) -> tuple[Path, dict[str, Any]]:
    """The demo tree indexed with the publication config, with one published NetCDF cube (NDVI 40KCB)."""
    from sen2val_stac.catalog.indexer import index_tree
    from sen2val_stac.derive.netcdf.export import export

    shutil.copytree(demo[0], root / "catalog")  # the index state comes along: re-rendering reads no raster
    shutil.copytree(demo[0].parent / "INDICES", root / "INDICES")
    (root / "sen2val.yaml").write_text(PUBLICATION, encoding="utf-8")
    config = load_config(root / "sen2val.yaml")
    report = export(root / "catalog", root / "netcdf", config, index="NDVI", tile="40KCB", progress=False)
    assert report.written and not report.errors, report
    index_tree(str(root / "INDICES"), str(root / "catalog"), config, workers=1, progress=False)
    return root / "catalog", config


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(demo, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """Both catalogues exported (tables and native records) and run through geoflow, concurrently."""
    out: dict[str, dict[str, Any]] = {}
    pub_catalog, pub_config = _published_catalogue(demo, tmp_path_factory.mktemp("published"))
    for name, catalog, config in (("demo", demo[0], load_config(None)), ("published", pub_catalog, pub_config)):
        folder = tmp_path_factory.mktemp(f"geoflow-{name}")
        write_geoflow(catalog, folder, config)
        native = {p.name.removesuffix("_ISO-19139.xml"): p for p in write_records(catalog, folder / "native", config)
                  if p.name.endswith("_ISO-19139.xml")}
        out[name] = {"catalog": catalog, "config": config, "folder": folder, "native": native}
    procs = {name: subprocess.Popen(["Rscript", str(RUNNER), str(run["folder"]), "run"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for name, run in out.items()}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=1800)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        assert done.returncode == 0, f"{name}: geoflow failed\n{stdout[-3000:]}\n{stderr[-3000:]}"
        job = job_dir(done)
        out[name].update(job=job, log=(job / "job-logs.txt").read_text(encoding="utf-8"),
                         records={p.parent.parent.name: p for p in job.glob("entities/*/metadata/*_ISO-19115.xml")})
    return out


def _entity_ids(folder: Path) -> list[str]:
    return [r["Identifier"].split("_\n")[0].removeprefix("id:") for r in _rows(folder / "entities.csv")]


@pytest.mark.parametrize("name", ["demo", "published"])
def test_geoflow_runs_to_the_end_with_no_issue_about_our_tables(runs, name) -> None:
    run = runs[name]
    log = run["log"]
    assert log.count("No validation issue detected!") == 2, "contacts and entities must both pass geoflow's validator"
    assert "Validation issues" not in log
    warnings = [line for line in log.splitlines() if "[WARN]" in line or "[ERROR]" in line]
    assert all(any(own in line for own in GEOFLOW_OWN_WARNINGS) for line in warnings), \
        [w for w in warnings if not any(own in w for own in GEOFLOW_OWN_WARNINGS)]
    assert "Workflow successfully executed" in log
    ids = _entity_ids(run["folder"])
    assert len(ids) == 9 and log.count("sen2val-complete-iso-19115: completed") == len(ids)


@pytest.mark.parametrize("name", ["demo", "published"])
def test_one_schema_valid_record_per_entity(runs, name) -> None:
    run = runs[name]
    ids = _entity_ids(run["folder"])
    assert sorted(run["records"]) == sorted(ids) == sorted(run["native"])
    for identifier in ids:
        assert schema_errors(run["records"][identifier]) == [], identifier
        assert schema_errors(run["native"][identifier]) == [], identifier
        text = run["records"][identifier].read_text(encoding="utf-8")
        assert "file://" not in text and "http://dx.doi.org" not in text


@pytest.mark.parametrize("name", ["demo", "published"])
def test_geoflow_and_native_records_agree_field_by_field(runs, name) -> None:
    run = runs[name]
    for identifier, path in run["records"].items():
        ours, theirs = iso_fields(run["native"][identifier]), iso_fields(path)
        for field in theirs:
            assert ours[field] == theirs[field], (identifier, field)


def _items(catalog: Path, index: str, tile: str | None) -> list[dict[str, Any]]:
    folder = catalog / index.lower()
    files = sorted(folder.glob(f"{tile}/*.json" if tile else "*/*.json"))
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def _expected_parties(config: dict[str, Any], collection: dict[str, Any]) -> tuple[set, set]:
    metadata, parties = set(), set()
    for c in config["contacts"]:
        name = " ".join(p for p in (c.get("first_name"), c.get("last_name")) if p) or c.get("organisation")
        for role in c["roles"]:
            if role == "metadata":
                metadata.add((name, c.get("email") or "", "pointOfContact"))
            elif not role.startswith("processor"):
                parties.add((name, c.get("email") or "", role))
    for p in collection["providers"]:
        if p["name"] != config["organisation"]["name"]:
            parties.add((p["name"], "", "originator"))
    return metadata, parties


def _check_against_stac(run: dict[str, Any], identifier: str, fields: dict[str, Any]) -> None:
    catalog, config = run["catalog"], run["config"]
    parts = identifier.split("_")
    tile, index = (parts[1], parts[2]) if len(parts) == 4 else (None, parts[1])
    collection = json.loads((catalog / index.lower() / "collection.json").read_text(encoding="utf-8"))
    items = _items(catalog, index, tile)
    instants = sorted(datetime.fromisoformat(i["properties"]["datetime"].replace("Z", "+00:00")) for i in items)
    assert collection["title"] in fields["title"] and (tile is None or f"tile {tile}" in fields["title"])
    assert fields["abstract"].startswith(" ".join(collection["description"].split("\n\n")[0].split()))
    words = {w for _, _, w in fields["keywords"]}
    assert set(collection["keywords"]) <= {w for kind, th, w in fields["keywords"] if kind == "theme" and not th}
    assert {"GEMET", "INSPIRE themes", "MGRS tiles"} <= {th for _, th, _ in fields["keywords"]}
    assert {i["properties"]["sen2chain:tile"] for i in items} <= words
    west = min(i["bbox"][0] for i in items)
    south = min(i["bbox"][1] for i in items)
    east = max(i["bbox"][2] for i in items)
    north = max(i["bbox"][3] for i in items)
    assert fields["bbox"] == pytest.approx((west, south, east, north), abs=2e-4)
    assert (fields["begin"], fields["end"]) == (instants[0], instants[-1])
    assert fields["begin"].utcoffset().total_seconds() == 0
    assert fields["crs"] == {"EPSG:4326"} | {i["properties"]["proj:code"] for i in items}
    latest = max(items, key=lambda i: i["properties"]["datetime"])
    rows, columns = latest["properties"]["proj:shape"]
    resolution = latest["assets"]["index"]["raster:bands"][0]["spatial_resolution"]
    assert fields["grid"] == {"count": 1, "declared": [2],
                              "dimensions": [("row", rows, resolution, "m"), ("column", columns, resolution, "m")]}
    assert fields["representation_type"] == ["grid"] and fields["empty_coverages"] == 0
    metadata, parties = _expected_parties(config, collection)
    assert fields["metadata_contacts"] == metadata and fields["parties"] == parties
    assert ("European Space Agency / Copernicus", "", "originator") in fields["parties"]
    licence = [link["href"] for link in collection["links"] if link["rel"] == "license"]
    assert fields["licence"] == [(collection["license"], licence[0])] and fields["use_constraints"] == ["license"]
    doi = (config["doi"].get(f"{index}_{tile}") if tile else None) or config["doi"].get(index)
    assert fields["doi"] == ([doi] if doi else [])
    assert fields["status"] == "onGoing" and fields["topic"] == ["imageryBaseMapsEarthCover"]
    online = dict((name, url) for name, url in fields["online"])
    if not config.get("root_href"):
        assert set(online) == ({"DOI"} if doi else set()) and fields["overviews"] == []
        return
    self_href = next(link["href"] for link in collection["links"] if link["rel"] == "self")
    assert online["STAC collection"] == self_href
    latest_self = next(link["href"] for link in latest["links"] if link["rel"] == "self")
    assert online["STAC item"] == latest_self
    thumbnail = latest_self.rsplit("/", 1)[0] + "/" + latest["assets"]["thumbnail"]["href"].removeprefix("./")
    assert fields["overviews"] == [thumbnail]
    if doi:
        assert online["DOI"] == f"https://doi.org/{doi}"
    if tile:
        assert online["Metadata"] == config["md_link_template"].format(identifier=identifier, index=index, tile=tile)
    cubes = [json.loads(p.read_text()) for p in (catalog / "cubes").glob("*.json") if p.name != "collection.json"] \
        if (catalog / "cubes").is_dir() else []
    mine = [c["assets"]["netcdf"]["href"] for c in cubes if c["properties"]["sen2chain:index"] == index
            and (tile is None or c["properties"]["sen2chain:tile"] == tile)]
    assert sorted(u for u in online.values() if u.endswith(".nc")) == sorted(mine)


@pytest.mark.parametrize("name", ["demo", "published"])
def test_records_carry_what_the_stac_collection_knows(runs, name) -> None:
    run = runs[name]
    for identifier, path in run["records"].items():
        _check_against_stac(run, identifier, iso_fields(path))
    if name == "published":  # the cube is there, in the series record and in the index record
        assert any(u.endswith(".nc") for _, u in iso_fields(run["records"]["data_40KCB_NDVI_SEN2CHAIN"])["online"])
        assert any(u.endswith(".nc") for _, u in iso_fields(run["records"]["data_NDVI_SEN2CHAIN"])["online"])


@pytest.mark.parametrize("name", ["demo", "published"])
def test_data_sources_are_plain_paths_or_published_urls(runs, name) -> None:
    run = runs[name]
    for row in _rows(run["folder"] / "entities.csv"):
        assert "file://" not in row["Relation"] + row["Data"]
        source = next(p for p in row["Data"].split("_\n") if p.startswith("source:"))
        where = source.split("@", 1)[1]
        if run["config"].get("root_href"):
            assert where.startswith("https://data.example.org/")
        else:
            assert Path(where).is_absolute() and Path(where).exists()
            assert row["Relation"] == ""


def test_publishing_workflow_passes_geoflows_checks_offline(demo, tmp_path) -> None:
    (tmp_path / "sen2val.yaml").write_text(PUBLISHING, encoding="utf-8")
    folder = tmp_path / "geoflow"
    files = write_geoflow(demo[0], folder, load_config(tmp_path / "sen2val.yaml"))
    flow = json.loads(files["workflow"].read_text(encoding="utf-8"))
    assert flow["profile"]["environment"] == {"file": ".env"}
    (folder / ".env").write_text("CSW_USER=u\nCSW_PASSWORD=p\nGEONETWORK_USER=u\nGEONETWORK_PASSWORD=p\n"
                                 "ZENODO_TOKEN=t\n", encoding="utf-8")
    done = run_geoflow(folder, "check", timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert {"SOFTWARE=csw ok", "SOFTWARE=geonetwork ok", "SOFTWARE=zenodo ok", "SECRETS=substituted",
            "ENTITIES=9"} <= set(done.stdout.splitlines())
    assert ("ACTIONS=geometa-create-iso-19115,sen2val-complete-iso-19115,ows4R-publish-iso-19139,"
            "geonapi-publish-iso-19139,zen4R-deposit-record") in done.stdout.splitlines()
