"""Indexing real Sen2Chain trees (real JPEG2000 / GeoTIFF rasters written with rasterio)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.cli import main
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import ProductSpec, tile_grid, write_product, write_tree

UTC = timezone.utc


def _json_files(catalog: Path) -> dict[str, dict]:
    return {str(p.relative_to(catalog)): json.loads(p.read_text()) for p in catalog.rglob("*.json") if ".sen2val" not in p.parts}


def _snapshot(catalog: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(catalog)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in catalog.rglob("*") if p.is_file() and ".sen2val" not in p.parts}


def _validate(catalog: Path, schemas: Path) -> None:
    assert main(["validate", str(catalog), "--schemas", str(schemas)]) == 0


def _index(indices: Path, catalog: Path, **config_overrides):
    config = load_config(None)
    config.update(config_overrides)
    return index_tree(str(indices), str(catalog), config, workers=1, progress=False)


# ---------------------------------------------------------------- the demo tree

def test_demo_counts_assets_and_report(demo) -> None:
    catalog, report = demo
    files = _json_files(catalog)
    items = {d["id"]: d for d in files.values() if d["type"] == "Feature"}
    collections = {d["id"]: d for d in files.values() if d["type"] == "Collection"}
    assert sorted(collections) == ["mndwi", "ndvi", "ndwigao"]
    assert len(items) == 30 == report.items_total
    ndvi = items["NDVI_40KCB_20220104"]
    assert sorted(ndvi["assets"]) == sorted(
        ["index", "masked-cm001", "masked-cm003-prb1-iter5", "quicklook", "quicklook-cm003-prb1-iter5", "thumbnail"])
    assert sorted(items["MNDWI_38KQE_20220307"]["assets"]) == ["index", "masked-cm001", "quicklook", "thumbnail"]
    # The truncated masked raster drops that asset only, and the report names the file.
    assert sorted(items["NDWIGAO_40KCB_20221110"]["assets"]) == ["index", "quicklook", "thumbnail"]
    skipped = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    truncated = "S2A_MSIL2A_20221110T063611_N0211_R134_T40KCB_20221110T063613_NDWIGAO_CM001.jp2"
    assert "truncated" in skipped[truncated]
    assert {"README.txt", "Thumbs.db", "notes.txt"} <= set(skipped)
    saved = json.loads((catalog / ".sen2val" / "index-report.json").read_text())
    assert len(saved["skipped"]) == len(report.skipped)
    # Each collection links exactly its items; the root links the collections.
    assert sum(1 for link in collections["ndvi"]["links"] if link["rel"] == "item") == 10
    root = files["catalog.json"]
    assert sorted(link["href"] for link in root["links"] if link["rel"] == "child") == [
        "./mndwi/collection.json", "./ndvi/collection.json", "./ndwigao/collection.json"]


def test_demo_item_contents(demo) -> None:
    catalog, _ = demo
    item = json.loads((catalog / "ndvi/40KCB/NDVI_40KCB_20220104.json").read_text())
    p = item["properties"]
    assert p["datetime"] == "2022-01-04T06:36:11Z"
    assert p["proj:code"] == "EPSG:32740" and "proj:epsg" not in p
    assert p["proj:shape"] == [610, 610]
    assert p["proj:transform"][:6] == [180.0, 0.0, 300000.0, 0.0, -180.0, 7700020.0]
    assert p["proj:bbox"] == [300000.0, 7590220.0, 409800.0, 7700020.0]
    assert p["grid:code"] == "MGRS-40KCB" and p["sat:relative_orbit"] == 134
    assert p["platform"] == "sentinel-2a" and p["constellation"] == "sentinel-2"
    assert p["processing:software"] == {"sen2chain": "1.4.1", "sen2chain-processing": "1.0", "sen2cor": "02.11"}
    assert 5 < p["eo:cloud_cover"] < 60
    raw = item["assets"]["index"]
    band = raw["raster:bands"][0]
    assert band["nodata"] == 16383 and band["data_type"] == "int16" and band["scale"] == 0.0001
    assert band["spatial_resolution"] == 180.0
    assert -10000 <= band["statistics"]["minimum"] < band["statistics"]["maximum"] <= 10000
    src = (catalog / "ndvi/40KCB" / raw["href"]).resolve()
    assert src.is_file() and raw["file:size"] == src.stat().st_size
    import hashlib
    assert raw["file:checksum"] == "1220" + hashlib.sha256(src.read_bytes()).hexdigest()
    ql = item["assets"]["quicklook"]
    assert ql["proj:shape"] == [1098, 1098] and ql["type"] == "image/tiff; application=geotiff"  # 100 m, as Sen2Chain
    thumb = catalog / "ndvi/40KCB" / item["assets"]["thumbnail"]["href"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(thumb) as ds:
            assert ds.driver == "PNG" and ds.count == 4 and max(ds.shape) == 256
            pixels = ds.read()  # the whole deflate stream inflates
    assert pixels[3].max() == 255 and pixels[:3].std() > 0
    coll = json.loads((catalog / "ndvi/collection.json").read_text())
    assert coll["extent"]["temporal"]["interval"] == [["2022-01-04T06:36:11Z", "2022-11-12T07:09:11Z"]]
    west, south, east, north = coll["extent"]["spatial"]["bbox"][0]
    assert 44 < west < 48 < 55 < east < 57 and -22 < south < north < -19
    assert set(coll["item_assets"]) == set(item["assets"])
    assert coll["summaries"]["grid:code"] == ["MGRS-38KQE", "MGRS-40KCB"]


def test_demo_validates_offline(demo, schemas_dir) -> None:
    _validate(demo[0], schemas_dir)


def test_partial_swath_footprint_covers_only_valid_part(demo) -> None:
    catalog, _ = demo
    item = json.loads((catalog / "ndvi/38KQE/NDVI_38KQE_20220615.json").read_text())
    src = (catalog / "ndvi/38KQE" / item["assets"]["index"]["href"]).resolve()
    with rasterio.open(src) as ds:
        data = ds.read(1)
        pixel_area = abs(ds.transform.a * ds.transform.e)
    valid_area = float(((data != 16383) & (np.abs(data) <= 10000)).sum()) * pixel_area
    to_utm = Transformer.from_crs(4326, 32738, always_xy=True)

    def utm_area(geometry: dict) -> float:
        return shapely.transform(shape(geometry), lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))).area

    footprint_area = utm_area(item["geometry"])
    tile_area = 109_800.0**2
    assert footprint_area < 0.75 * tile_area
    assert abs(footprint_area - valid_area) / valid_area < 0.03
    full = json.loads((catalog / "ndvi/38KQE/NDVI_38KQE_20220106.json").read_text())
    full_area = utm_area(full["geometry"])
    assert abs(full_area - tile_area) / tile_area < 0.02


def test_rerun_changes_no_byte(demo) -> None:
    catalog, _ = demo
    before = _snapshot(catalog)
    report = _index(catalog.parent / "INDICES", catalog)
    assert report.files_written == 0 and not report.added and not report.updated and not report.removed
    assert report.unchanged == 30
    assert _snapshot(catalog) == before
    state = catalog / ".sen2val" / "state.sqlite"
    mtime = state.stat().st_mtime_ns
    _index(catalog.parent / "INDICES", catalog)
    assert state.stat().st_mtime_ns == mtime  # a run that changes nothing does not open a transaction


def test_rebuild_without_state_is_byte_identical(demo, tmp_path) -> None:
    catalog, _ = demo
    before = {k: v[0] for k, v in _snapshot(catalog).items()}
    shutil.move(catalog / ".sen2val", tmp_path / "state")
    try:
        report = _index(catalog.parent / "INDICES", catalog)
        assert report.files_written == 0
        assert {k: v[0] for k, v in _snapshot(catalog).items()} == before
    finally:
        shutil.rmtree(catalog / ".sen2val")
        shutil.move(tmp_path / "state", catalog / ".sen2val")


# ---------------------------------------------------------------- variants and bad input

def _spec(index: str, tile: str, day: int, **kw) -> ProductSpec:
    return ProductSpec(index=index, tile=tile, sensing=datetime(2021, 3, day, 6, 35, 12, tzinfo=UTC), **kw)


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    indices = root / "INDICES"
    specs = [
        _spec("NDVI", "40KCB", 1, masks=("CM001", "CM004-CSH1-CMP1-CHP1-TCI1-ITER0")),
        _spec("NDVI", "40KCB", 2, baseline="9999", masks=("CM003-PRB1-ITER5",)),
        _spec("NDVI", "40KCB", 3, baseline="0201", masks=("CM001",)),
        _spec("NDVI", "40KCB", 3, baseline="9999", masks=("CM001",)),  # same date, reprocessed: wins
        _spec("NDRE", "40KCB", 4, resolution=360.0, masks=("CM001",)),  # a "20 m" index (coarser grid)
        _spec("NDVI", "38KQE", 5, ext=".tif", masks=("CM002-B11",), quicklook=False),  # legacy GeoTIFF rasters
        _spec("NDVI", "38KQE", 6, swath="partial", masks=("OCM_v1_0_0",)),
        _spec("NDVI", "38KQE", 7, truncate="index"),  # raw raster truncated: item skipped
        _spec("FOO", "38KQE", 8, masks=()),  # an index with no definition: generic template
    ]
    write_tree(indices, specs)
    # Legacy names: _MASKED / _QUICKLOOK.
    legacy = _spec("MNDWI", "40KCB", 9, masks=("CM001",))
    folder = write_product(indices, legacy)
    base = f"{legacy.product_id}_MNDWI"
    (folder / f"{base}_CM001.jp2").rename(folder / f"{base}_MASKED.jp2")
    (folder / f"{base}_CM001_QL.tif").rename(folder / f"{base}_QUICKLOOK.tif")
    # A product whose raster CRS disagrees with its tile (38KQE grid under 40KCB).
    wrong = _spec("MNDWI", "40KCB", 10)
    folder = write_product(indices, wrong)
    n, transform, _ = tile_grid("40KCB", wrong.resolution)
    raw = folder / f"{wrong.product_id}_MNDWI.jp2"
    with rasterio.open(raw) as ds:
        data = ds.read()
    with rasterio.open(raw, "w", driver="JP2OpenJPEG", width=n, height=n, count=1, dtype="int16",
                       crs="EPSG:32738", transform=transform, nodata=16383) as ds:
        ds.write(data)
    # Empty product folder, half-copied product (masked only), product under the wrong tile, junk names.
    empty = _spec("MNDWI", "40KCB", 11)
    (indices / empty.folder).mkdir(parents=True)
    half = _spec("MNDWI", "40KCB", 12)
    folder = write_product(indices, half)
    (folder / f"{half.product_id}_MNDWI.jp2").unlink()
    misplaced = _spec("MNDWI", "38KQE", 13)
    src = write_product(indices, misplaced)
    src.rename(indices / "MNDWI" / "40KCB" / src.name)
    (indices / "MNDWI" / "40KCB" / "not_a_product").mkdir()
    (indices / "MNDWI" / "ZZZ").mkdir()
    (indices / "NDVI" / "40KCB" / _spec("NDVI", "40KCB", 1).product_id / "junk.jp2").write_bytes(b"junk")
    catalog = root / "catalog"
    report = _index(indices, catalog)
    return indices, catalog, report


def test_variants_items_and_assets(variants) -> None:
    _, catalog, report = variants
    items = {d["id"]: d for d in _json_files(catalog).values() if d["type"] == "Feature"}
    assert sorted(items) == sorted([
        "NDVI_40KCB_20210301", "NDVI_40KCB_20210302", "NDVI_40KCB_20210303", "NDRE_40KCB_20210304",
        "NDVI_38KQE_20210305", "NDVI_38KQE_20210306", "FOO_38KQE_20210308", "MNDWI_40KCB_20210309",
    ])
    assert report.items_total == 8
    assert sorted(items["NDVI_40KCB_20210301"]["assets"]) == sorted(
        ["index", "masked-cm001", "masked-cm004-csh1-cmp1-chp1-tci1-iter0", "quicklook",
         "quicklook-cm004-csh1-cmp1-chp1-tci1-iter0", "thumbnail"])
    n9999 = items["NDVI_40KCB_20210303"]["properties"]
    assert n9999["sen2chain:product_id"].split("_")[3] == "N9999" and n9999["processing:version"] == "99.99"
    ndre = items["NDRE_40KCB_20210304"]
    assert ndre["properties"]["proj:shape"] == [305, 305]
    assert ndre["assets"]["index"]["raster:bands"][0]["spatial_resolution"] == 360.0
    tif = items["NDVI_38KQE_20210305"]
    assert tif["assets"]["index"]["type"] == "image/tiff; application=geotiff"
    assert sorted(tif["assets"]) == ["index", "masked-cm002-b11"]
    assert sorted(items["NDVI_38KQE_20210306"]["assets"]) == ["index", "masked-ocm-v1-0-0", "quicklook", "thumbnail"]
    assert sorted(items["MNDWI_40KCB_20210309"]["assets"]) == ["index", "masked-cm001", "quicklook", "thumbnail"]
    foo = json.loads((catalog / "foo/collection.json").read_text())
    assert foo["title"] == "FOO radiometric index"
    assert "scale" not in items["FOO_38KQE_20210308"]["assets"]["index"]["raster:bands"][0]


def test_variants_skips_name_file_and_reason(variants) -> None:
    indices, _, report = variants
    reasons = {os.path.relpath(s["path"], indices): s["reason"] for s in report.skipped}
    def find(fragment: str) -> str:
        hits = [reason for path, reason in reasons.items() if fragment in path]
        assert hits, f"nothing skipped matching {fragment}: {sorted(reasons)}"
        return hits[0]
    assert "truncated" in find("20210307T063512_N0211_R134_T38KQE_20210307T063514_NDVI.jp2")
    assert "disagrees with tile 40KCB" in find("20210310T063512")
    assert "no index raster" in find("20210311T063512")
    assert "no raw index raster" in find("20210312T063512")
    assert "stored under tile folder 40KCB" in find("20210313T063512")
    assert "not a Sentinel-2 product id" in find("not_a_product")
    assert "not an MGRS tile name" in find("MNDWI/ZZZ")
    assert "unknown file name" in find("junk.jp2")
    assert "which is indexed instead" in find("N0201_R134_T40KCB_20210303")


def test_variants_validate(variants, schemas_dir) -> None:
    _validate(variants[1], schemas_dir)


# ---------------------------------------------------------------- incremental runs

def test_incremental_add_change_remove(tmp_path, schemas_dir) -> None:
    indices = tmp_path / "INDICES"
    specs = [_spec("NDVI", "40KCB", d) for d in (1, 2, 3)]
    write_tree(indices, specs, stray=False)
    catalog = tmp_path / "catalog"
    first = _index(indices, catalog)
    assert sorted(first.added) == ["NDVI_40KCB_20210301", "NDVI_40KCB_20210302", "NDVI_40KCB_20210303"]
    before = _snapshot(catalog)

    write_product(indices, _spec("NDVI", "40KCB", 4))
    shutil.rmtree(indices / specs[0].folder)
    changed = indices / specs[1].folder / f"{specs[1].product_id}_NDVI_CM001.jp2"
    write_product(indices, ProductSpec(**{**specs[1].__dict__, "cloud_fraction": 0.5}))
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    report = _index(indices, catalog)
    assert report.added == ["NDVI_40KCB_20210304"]
    assert report.updated == ["NDVI_40KCB_20210302"]
    assert report.removed == ["NDVI_40KCB_20210301"]
    after = _snapshot(catalog)
    assert "ndvi/40KCB/NDVI_40KCB_20210301.json" not in after
    assert "ndvi/40KCB/NDVI_40KCB_20210301.png" not in after
    assert after["ndvi/40KCB/NDVI_40KCB_20210303.json"] == before["ndvi/40KCB/NDVI_40KCB_20210303.json"]
    coll = json.loads((catalog / "ndvi/collection.json").read_text())
    assert sorted(link["href"] for link in coll["links"] if link["rel"] == "item") == [
        "./40KCB/NDVI_40KCB_20210302.json", "./40KCB/NDVI_40KCB_20210303.json", "./40KCB/NDVI_40KCB_20210304.json"]
    _validate(catalog, schemas_dir)

    shutil.rmtree(indices / "NDVI")
    write_product(indices, _spec("MNDWI", "40KCB", 5))
    report = _index(indices, catalog)
    assert not (catalog / "ndvi" / "collection.json").exists()
    root = json.loads((catalog / "catalog.json").read_text())
    assert [link["href"] for link in root["links"] if link["rel"] == "child"] == ["./mndwi/collection.json"]
    _validate(catalog, schemas_dir)


def test_product_that_turns_bad_leaves_the_catalogue(tmp_path) -> None:
    indices = tmp_path / "INDICES"
    specs = [_spec("NDVI", "40KCB", d) for d in (1, 2)]
    write_tree(indices, specs, stray=False)
    catalog = tmp_path / "catalog"
    assert _index(indices, catalog).items_total == 2
    raw = indices / specs[0].folder / f"{specs[0].product_id}_NDVI.jp2"
    with open(raw, "r+b") as f:
        f.truncate(raw.stat().st_size // 2)
    report = _index(indices, catalog)
    assert report.removed == ["NDVI_40KCB_20210301"] and report.items_total == 1
    assert not (catalog / "ndvi/40KCB/NDVI_40KCB_20210301.json").exists()
    assert [s["path"] for s in report.skipped if "truncated" in s["reason"]] == [str(raw)]
    coll = json.loads((catalog / "ndvi/collection.json").read_text())
    assert [link["href"] for link in coll["links"] if link["rel"] == "item"] == ["./40KCB/NDVI_40KCB_20210302.json"]
    again = _index(indices, catalog)  # the failure is remembered: nothing is read or written again
    assert again.files_written == 0 and not again.removed and again.skipped == report.skipped


def test_product_emptied_between_listing_and_reading(tmp_path, monkeypatch) -> None:
    """A product folder emptied after the tree was listed, before its turn to be read (a copy being redone):
    skipped with the reason, its earlier item removed, the other products indexed."""
    from sen2val_stac.catalog import indexer

    indices = tmp_path / "INDICES"
    specs = [_spec("NDVI", "40KCB", d) for d in (1, 2, 3)]
    write_tree(indices, specs, stray=False)
    catalog = tmp_path / "catalog"
    assert _index(indices, catalog).items_total == 3
    for spec in specs[:2]:  # both change: both are read again, and the first is emptied just before
        for raster in (indices / spec.folder).glob("*.jp2"):
            os.utime(raster, ns=(time.time_ns(), time.time_ns() + 10**9))
    emptied = indices / specs[0].folder
    real_scan = indexer.scan_product

    def scan_after_emptying(index, tile, folder, skips):
        if Path(folder) == emptied:
            for f in emptied.iterdir():
                f.unlink()
        return real_scan(index, tile, folder, skips)

    monkeypatch.setattr(indexer, "scan_product", scan_after_emptying)
    report = _index(indices, catalog)
    assert report.removed == ["NDVI_40KCB_20210301"] and report.updated == ["NDVI_40KCB_20210302"]
    assert report.items_total == 2 and not (catalog / "ndvi/40KCB/NDVI_40KCB_20210301.json").exists()
    assert [(s["path"], s["reason"]) for s in report.skipped] == [
        (str(emptied), "product folder holds no index raster (empty or half-copied)")]
    coll = json.loads((catalog / "ndvi/collection.json").read_text())
    assert [link["href"] for link in coll["links"] if link["rel"] == "item"] == [
        "./40KCB/NDVI_40KCB_20210302.json", "./40KCB/NDVI_40KCB_20210303.json"]


def test_state_of_an_earlier_version_is_imported_without_reading(tmp_path) -> None:
    from sen2val_stac.catalog.state import load_state

    indices = tmp_path / "INDICES"
    specs = [_spec("NDVI", "40KCB", d) for d in (1, 2, 3)]
    write_tree(indices, specs, stray=False)
    catalog = tmp_path / "catalog"
    _index(indices, catalog)
    before = _snapshot(catalog)
    state = load_state(str(catalog))
    (catalog / ".sen2val" / "state.sqlite").unlink()
    legacy = catalog / ".sen2val" / "state.json"  # what versions before the SQLite state wrote
    legacy.write_text(json.dumps({**state, "version": 1}, separators=(",", ":")))
    # Garbage of the same size and mtime in every raw raster: a product read again would fail.
    for spec in specs:
        raw = indices / spec.folder / f"{spec.product_id}_NDVI.jp2"
        st = raw.stat()
        raw.write_bytes(b"\0" * st.st_size)
        os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns))
    report = _index(indices, catalog)
    assert report.unchanged == 3 and report.files_written == 0 and not report.skipped
    # The same bytes (the parquet index is rebuilt, identical, because the state file is new).
    assert {k: v[0] for k, v in _snapshot(catalog).items()} == {k: v[0] for k, v in before.items()}
    assert not legacy.exists() and load_state(str(catalog)) == state


def test_root_href_writes_absolute_published_catalogue(demo, tmp_path, schemas_dir) -> None:
    catalog, _ = demo
    out = tmp_path / "published"
    _index(catalog.parent / "INDICES", out, root_href="https://data.example.org/stac/",
           asset_href_base="https://data.example.org/INDICES/")
    item = json.loads((out / "ndvi/40KCB/NDVI_40KCB_20220104.json").read_text())
    links = {link["rel"]: link["href"] for link in item["links"]}
    assert links["self"] == "https://data.example.org/stac/ndvi/40KCB/NDVI_40KCB_20220104.json"
    assert links["root"] == "https://data.example.org/stac/catalog.json"
    assert item["assets"]["index"]["href"].startswith("https://data.example.org/INDICES/NDVI/40KCB/S2A_MSIL2A_20220104")
    _validate(out, schemas_dir)


# ---------------------------------------------------------------- crash safety and the CLI

def test_kill_mid_run_leaves_valid_catalogue(tmp_path, schemas_dir) -> None:
    indices = tmp_path / "INDICES"
    write_tree(indices, [_spec("NDVI", "40KCB", d) for d in (1, 2)], stray=False)
    catalog = tmp_path / "catalog"
    _index(indices, catalog)
    write_tree(indices, [_spec("NDVI", "40KCB", d, masks=("CM001", "CM002-B11")) for d in range(3, 29)], stray=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sen2val_stac", "index", str(indices), "--catalog", str(catalog), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((catalog / "ndvi/40KCB").glob("*.png"))) < 6:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _validate(catalog, schemas_dir)
    report = _index(indices, catalog)
    assert report.items_total == 28
    _validate(catalog, schemas_dir)
    assert not list(catalog.rglob(".tmp-*"))


def test_cli_exit_status_and_summary(tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["index", str(empty), "--catalog", str(tmp_path / "c1"), "--no-progress"]) == 1
    assert main(["index", str(tmp_path / "missing"), "--catalog", str(tmp_path / "c2")]) == 2
    blocker = tmp_path / "file"
    blocker.write_text("x")
    write_tree(tmp_path / "INDICES", [_spec("NDVI", "40KCB", 1)], stray=False)
    assert main(["index", str(tmp_path / "INDICES"), "--catalog", str(blocker / "cat")]) == 2
    assert main(["index", str(tmp_path / "INDICES"), "--catalog", str(tmp_path / "c3"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 items in 1 collections (ndvi)" in out and "added 1" in out


def test_collection_doi_declares_scientific_extension(demo, tmp_path, schemas_dir) -> None:
    catalog, _ = demo
    out = tmp_path / "with-doi"
    _index(catalog.parent / "INDICES", out, doi={"NDVI": "10.5281/zenodo.1234"})
    coll = json.loads((out / "ndvi/collection.json").read_text())
    assert coll["sci:doi"] == "10.5281/zenodo.1234"
    assert "https://stac-extensions.github.io/scientific/v1.0.0/schema.json" in coll["stac_extensions"]
    assert "sci:doi" not in json.loads((out / "mndwi/collection.json").read_text())
    _validate(out, schemas_dir)


def test_collection_file_is_pystacs_collection_dumped(demo) -> None:
    """The collection file is streamed (item links spilled to disk as the records pass); its bytes must be
    pystac's whole collection, links included, as dump_json writes it."""
    from sen2val_stac.catalog.collection_file import ItemLinks, collection_chunks
    from sen2val_stac.catalog.render import CollectionFacts, build_collection
    from sen2val_stac.catalog.state import load_state
    from sen2val_stac.core.atomic import dump_json

    catalog, _ = demo
    records = sorted((r for r in load_state(str(catalog))["items"].values() if r["index"] == "NDVI"),
                     key=lambda r: r["item_id"])
    assert len(records) == 10
    for overrides in ({}, {"root_href": "https://data.example.org/stac/", "doi": {"NDVI": "10.5281/zenodo.1"}}):
        config = {**load_config(None), **overrides}
        places = [(r["tile"], r["item_id"]) for r in records]
        expected = dump_json(build_collection("NDVI", records, config, places).to_dict(transform_hrefs=False))
        for count in (1, len(records)):  # one link, and several
            facts = CollectionFacts.of("NDVI", records[:count])
            with ItemLinks("NDVI", config.get("root_href")) as links:
                for tile, item_id in places[:count]:
                    links.add(tile, item_id)
                ours = b"".join(collection_chunks(facts, config, links))
            whole = dump_json(build_collection("NDVI", records[:count], config, places[:count]).to_dict(
                transform_hrefs=False))
            assert ours == whole
        assert whole == expected
    assert (catalog / "ndvi" / "collection.json").read_bytes() == dump_json(build_collection(
        "NDVI", records, load_config(None), places).to_dict(transform_hrefs=False))
