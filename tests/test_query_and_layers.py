"""The parquet query layer and the footprint layers, read back with pyogrio and ogrinfo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone

import geopandas as gpd
import pyogrio
import pytest

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.catalog.parquet import is_stale, parquet_path
from sen2val_stac.catalog.query import QueryError, query_frame, query_items
from sen2val_stac.catalog.read import load_items
from sen2val_stac.cli import main
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import ProductSpec, write_tree
from sen2val_stac.derive.layers import index_abbreviations, write_layers

UTC = timezone.utc


def _spec(index: str, tile: str, month: int, day: int = 1, **kw) -> ProductSpec:
    return ProductSpec(index=index, tile=tile, sensing=datetime(2020, month, day, 6, 35, 12, tzinfo=UTC), **kw)


@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    """Three tiles, three indices, with gaps: BIRNIR only on 38KQE, NDVI missing on 40KEC."""
    root = tmp_path_factory.mktemp("gappy")
    specs = [_spec("NDVI", "40KCB", m) for m in (1, 2, 5)] + [_spec("NDVI", "38KQE", m) for m in (3, 4)]
    specs += [_spec("NDWIGAO", t, m) for t in ("40KCB", "40KEC") for m in (6, 7)]
    specs += [_spec("BIRNIR", "38KQE", 8, masks=("CM001", "CM003-PRB1-ITER5"))]
    write_tree(root / "INDICES", specs, stray=False)
    index_tree(str(root / "INDICES"), str(root / "catalog"), load_config(None), workers=1, progress=False)
    config_file = root / "sen2val.yaml"
    config_file.write_text(
        "md_link_template: https://sdi.example.org/geonetwork/srv/eng/catalog.search#/metadata/{identifier}\n"
        "doi:\n  NDVI: 10.5281/zenodo.1111\n  NDWIGAO_40KEC: 10.5281/zenodo.2222\n")
    return root / "catalog", load_config(config_file)


def test_parquet_written_by_index_and_rebuilt_when_stale(demo, tmp_path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(demo[0], catalog)
    path = parquet_path(catalog)
    assert path.exists() and not is_stale(catalog)
    assert len(gpd.read_parquet(path)) == 30
    path.unlink()
    assert len(query_frame(catalog)) == 30 and path.exists()
    coll = catalog / "ndvi/collection.json"
    doc = json.loads(coll.read_text())
    doc["links"] = [link for link in doc["links"] if "NDVI_40KCB_20220104" not in link["href"]]
    coll.write_text(json.dumps(doc))
    os.utime(coll, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert is_stale(catalog)
    assert len(query_frame(catalog)) == 29


def test_query_filters_agree_with_json_walk(demo) -> None:
    catalog = demo[0]
    cases = [
        {},
        {"index": "ndvi"},
        {"index": "NDVI", "tile": "40kcb"},
        {"start": "2022-03-05", "end": "2022-06-13"},
        {"bbox": "55,-22,56,-20"},
        {"bbox": "10,10,11,11"},
    ]
    for filters in cases:
        got = [r.id for r in query_items(catalog, **filters)]
        want_filters = dict(filters)
        if "start" in want_filters:
            want_filters["start"] = datetime(2022, 3, 5, tzinfo=UTC)
            want_filters["end"] = datetime(2022, 6, 13, 23, 59, 59, tzinfo=UTC)
        if "bbox" in want_filters:
            want_filters["bbox"] = tuple(float(v) for v in want_filters["bbox"].split(","))
        want = [r.id for r in load_items(catalog, **want_filters)]
        assert got == want, filters
    assert len(query_items(catalog, index="ndvi", tile="40KCB")) == 5
    assert len(query_items(catalog, start="2022-03-05", end="2022-06-13")) == 9
    assert {r.tile for r in query_items(catalog, bbox="55,-22,56,-20")} == {"40KCB"}
    assert query_items(catalog, bbox="10,10,11,11") == []
    with pytest.raises(QueryError, match="not a date"):
        query_frame(catalog, start="March")
    with pytest.raises(QueryError, match="bounding box"):
        query_frame(catalog, bbox="1,2,3")


def test_query_cli_formats(demo, capsys) -> None:
    catalog = str(demo[0])
    assert main(["query", catalog, "--index", "NDVI", "--tile", "38KQE", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "id,datetime,index,tile,cloud_cover,assets" and len(lines) == 6
    assert main(["query", catalog, "--index", "MNDWI", "--format", "geojson"]) == 0
    fc = json.loads(capsys.readouterr().out)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 10
    assert main(["query", catalog, "--bbox", "x"]) == 2


def test_abbreviations_are_unique_and_short() -> None:
    abbr = index_abbreviations(["NDVI", "NDWIGAO", "NDWIGAX", "BIRNIR", "VERYLONGINDEX"])
    assert abbr["NDVI"] == "NDVI" and abbr["BIRNIR"] == "BIRNIR"
    assert len(set(abbr.values())) == 5 and all(len(v) <= 6 for v in abbr.values())


def _ogrinfo(path) -> tuple[int, dict[str, str]]:
    if not shutil.which("ogrinfo"):
        pytest.skip("ogrinfo (gdal-bin) not installed: scripts/install_system_deps.sh installs it")
    out = subprocess.run(["ogrinfo", "-so", "-al", str(path)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"Feature Count: (\d+)", out).group(1))
    fields = dict(re.findall(r"^(\w+): (\w+) \(", out, flags=re.M))
    return count, fields


def test_shapefiles_read_back(gappy, tmp_path) -> None:
    catalog, config = gappy
    layers = write_layers(catalog, tmp_path, config, "shp")
    assert sorted(layers.files) == sorted([
        "footprints_all", "footprints_birnir", "footprints_ndvi", "footprints_ndwigao",
        "footprints_birnir_38kqe", "footprints_ndvi_38kqe", "footprints_ndvi_40kcb",
        "footprints_ndwigao_40kcb", "footprints_ndwigao_40kec"])
    for name in layers.files:
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            assert (tmp_path / f"{name}{ext}").is_file()
    assert (tmp_path / "footprints_all.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    assert "WGS" in (tmp_path / "footprints_all.prj").read_text()

    count, fields = _ogrinfo(tmp_path / "footprints_all.shp")
    assert count == 3
    assert fields == {"tile": "String", "BIRNIR": "Integer", "BIRNIR_f": "Date", "BIRNIR_l": "Date",
                      "BIRNIR_md": "String", "BIRNIR_doi": "String", "NDVI": "Integer", "NDVI_f": "Date",
                      "NDVI_l": "Date", "NDVI_md": "String", "NDVI_doi": "String", "NDWIGA": "Integer",
                      "NDWIGA_f": "Date", "NDWIGA_l": "Date", "NDWIGA_md": "String", "NDWIGA_doi": "String"}
    all_ = pyogrio.read_dataframe(tmp_path / "footprints_all.shp").set_index("tile")
    assert all_.loc["40KCB", "NDVI"] == 3 and all_.loc["40KEC", "NDVI"] == 0 and all_.loc["38KQE", "BIRNIR"] == 1
    assert str(all_.loc["40KCB", "NDVI_f"])[:10] == "2020-01-01" and str(all_.loc["40KCB", "NDVI_l"])[:10] == "2020-05-01"
    assert all_.loc["40KEC", "NDWIGA_doi"] == "10.5281/zenodo.2222" and all_.loc["40KCB", "NDVI_doi"] == "10.5281/zenodo.1111"
    assert all_.loc["40KCB", "NDVI_md"].endswith("#/metadata/data_40KCB_NDVI_SEN2CHAIN")

    count, fields = _ogrinfo(tmp_path / "footprints_ndvi.shp")
    assert count == 2
    assert fields == {"index": "String", "tile": "String", "n_dates": "Integer", "first": "Date", "last": "Date",
                      "md_link": "String", "doi": "String"}
    ndvi = pyogrio.read_dataframe(tmp_path / "footprints_ndvi.shp").set_index("tile")
    assert ndvi.loc["38KQE", "n_dates"] == 2 and str(ndvi.loc["38KQE", "last"])[:10] == "2020-04-01"

    count, fields = _ogrinfo(tmp_path / "footprints_birnir_38kqe.shp")
    assert count == 2  # the series, then one date
    assert fields == {"kind": "String", "item_id": "String", "date": "Date", "datetime": "String",
                      "cloud": "Real", "cm001": "String", "cm003_prb1": "String"}
    series = pyogrio.read_dataframe(tmp_path / "footprints_ndvi_40kcb.shp")
    assert list(series["kind"]) == ["series", "date", "date", "date"]
    assert list(series["datetime"][1:]) == ["2020-01-01T06:35:12Z", "2020-02-01T06:35:12Z", "2020-05-01T06:35:12Z"]
    href = series["cm001"][1]
    assert os.path.isfile(os.path.join(tmp_path, href)) and href.endswith("_NDVI_CM001.jp2")
    assert series.geometry[0].area >= series.geometry[1].area * 0.99


@pytest.mark.parametrize("fmt", ["gpkg", "parquet"])
def test_other_formats(gappy, tmp_path, fmt) -> None:
    catalog, config = gappy
    layers = write_layers(catalog, tmp_path, config, fmt)
    path = layers.files["footprints_ndvi"]
    frame = gpd.read_parquet(path) if fmt == "parquet" else pyogrio.read_dataframe(path)
    assert len(frame) == 2 and set(frame["tile"]) == {"40KCB", "38KQE"}
    assert frame.crs.to_epsg() == 4326


def test_footprints_cli(gappy, tmp_path) -> None:
    catalog, _ = gappy
    assert main(["footprints", str(catalog), "--out", str(tmp_path), "--format", "gpkg"]) == 0
    assert (tmp_path / "footprints_all.gpkg").is_file()
    assert main(["footprints", str(catalog), "--out", str(tmp_path), "--config", str(tmp_path / "nope.yaml")]) == 2


def _mtimes(folder) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}


@pytest.mark.parametrize("fmt", ["shp", "gpkg"])
def test_layers_are_incremental(gappy, tmp_path, fmt) -> None:
    catalog, config = gappy
    out = tmp_path / "layers"
    first = write_layers(catalog, out, config, fmt)
    assert len(first.written) == len(first.files) == 9 and not first.unchanged
    before = _mtimes(out)
    # A killed run's staging folder (its pid is gone) is removed; a live run's is left alone.
    dead = out / ".tmp-layers-999999999-x"
    live = out / f".tmp-layers-{os.getpid()}-live"
    dead.mkdir(), live.mkdir()
    (dead / "footprints_all.shp").write_bytes(b"half")
    second = write_layers(catalog, out, config, fmt)
    assert second.written == [] and sorted(second.unchanged) == sorted(first.files)
    assert _mtimes(out) == before, "an unchanged layer was rewritten"
    assert not dead.exists() and live.is_dir()
    # A changed DOI changes footprints_all and footprints_ndvi only; a deleted file is written again.
    changed = {**config, "doi": {**config["doi"], "NDVI": "10.5281/zenodo.9999"}}
    (out / f"footprints_ndwigao_40kec{'.gpkg' if fmt == 'gpkg' else '.dbf'}").unlink()
    third = write_layers(catalog, out, changed, fmt)
    assert sorted(third.written) == ["footprints_all", "footprints_ndvi", "footprints_ndwigao_40kec"]
    # A layer that left the catalogue is removed with all its files.
    stale_state = json.loads((out / ".sen2val-layers.json").read_text())
    stale_state["layers"]["footprints_gone_01abc"] = {"fingerprint": "x", "files": ["footprints_gone_01abc.gpkg"]}
    (out / ".sen2val-layers.json").write_text(json.dumps(stale_state))
    (out / "footprints_gone_01abc.gpkg").write_bytes(b"old")
    fourth = write_layers(catalog, out, changed, fmt)
    assert fourth.removed == ["footprints_gone_01abc"] and not (out / "footprints_gone_01abc.gpkg").exists()
    assert fourth.written == []
