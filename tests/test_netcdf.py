"""NetCDF cubes: values against the source rasters, CF/ACDD compliance, incremental runs, catalogue."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import netCDF4
import numpy as np
import pytest
import rasterio
import xarray as xr

from sen2val_stac.catalog_read import ItemRef, load_items
from sen2val_stac.cli import main
from sen2val_stac.config import load_config
from sen2val_stac.cubes import CubeError, Series, grid_of
from sen2val_stac.demo_tree import ProductSpec, write_product
from sen2val_stac.indexer import index_tree
from sen2val_stac.netcdf_export import export


@pytest.fixture(scope="module")
def cubes(demo, tmp_path_factory):
    """The demo catalogue copied with its tree, and its cubes exported once."""
    root = tmp_path_factory.mktemp("cubes")
    shutil.copytree(demo[0].parent / "INDICES", root / "INDICES")
    shutil.copytree(demo[0], root / "catalog")
    config = load_config(None)
    config["netcdf"]["thredds_catalog"] = True
    report = export(root / "catalog", root / "netcdf", config, progress=False)
    return root, config, report


def _expected(path: str, nodata: int) -> np.ndarray:
    with rasterio.open(path) as ds:
        a = ds.read(1)
    return np.where((np.abs(a.astype(np.int32) - nodata) > 256) & (a >= -10000) & (a <= 10000), a, nodata)


def test_cubes_written_and_skips_reported(cubes) -> None:
    root, _, report = cubes
    assert sorted(report.written) == sorted([
        "MNDWI_38KQE_masked-cm001_20220106_20221112.nc", "MNDWI_40KCB_masked-cm001_20220104_20221110.nc",
        "NDVI_38KQE_masked-cm001_20220106_20221112.nc", "NDVI_40KCB_masked-cm001_20220104_20221110.nc",
        "NDWIGAO_38KQE_masked-cm001_20220106_20221112.nc", "NDWIGAO_40KCB_masked-cm001_20220104_20220901.nc"])
    assert report.skipped == ["NDWIGAO 40KCB: NDWIGAO_40KCB_20221110: no asset 'masked-cm001'"]
    with netCDF4.Dataset(root / "netcdf/NDWIGAO_40KCB_masked-cm001_20220104_20220901.nc") as nc:
        assert "skipped NDWIGAO_40KCB_20221110: no asset 'masked-cm001'" in nc.history


def test_values_time_and_packing_exact(cubes) -> None:
    root, _, _ = cubes
    path = root / "netcdf/NDVI_38KQE_masked-cm001_20220106_20221112.nc"
    refs = load_items(root / "catalog", index="NDVI", tile="38KQE")
    with netCDF4.Dataset(path) as nc:
        var = nc["ndvi"]
        assert var.dtype == np.int16 and var._FillValue == np.int16(16383) and isinstance(var._FillValue, np.int16)
        assert var.scale_factor == np.float32(1e-4) and var.add_offset == 0
        assert var.valid_min == -10000 and var.valid_max == 10000 and var.grid_mapping == "spatial_ref"
        assert var.standard_name == "normalized_difference_vegetation_index"
        assert var.chunking() == [5, 256, 256] and var.filters()["zlib"] and var.filters()["shuffle"]
        assert nc["time"].units.startswith("days since 1970-01-01") and nc["time"].dtype == np.float64
        assert nc["spatial_ref"].grid_mapping_name == "transverse_mercator"
        var.set_auto_maskandscale(False)
        raw = var[:]
        x, y = nc["x"][:], nc["y"][:]
        times = netCDF4.num2date(nc["time"][:], nc["time"].units, only_use_cftime_datetimes=False)
    assert [t.strftime("%Y-%m-%dT%H:%M:%S") for t in times] == [r.datetime.strftime("%Y-%m-%dT%H:%M:%S") for r in refs]
    assert x[0] == 699960 + 90 and y[0] == 7800040 - 90 and raw.shape == (5, 610, 610)
    for i, ref in enumerate(refs):
        np.testing.assert_array_equal(raw[i], _expected(ref.asset_href("masked-cm001"), 16383))
    with xr.open_dataset(path) as ds:
        decoded = ds["ndvi"].isel(time=0).values
    expected = _expected(refs[0].asset_href("masked-cm001"), 16383)
    np.testing.assert_allclose(decoded, np.where(expected == 16383, np.nan, expected * np.float32(1e-4)), rtol=1e-6)


def test_compliance_checker_no_high_priority_failure(cubes, tmp_path) -> None:
    root, _, _ = cubes
    nc = root / "netcdf/NDVI_40KCB_masked-cm001_20220104_20221110.nc"
    out = tmp_path / "cc.json"
    checker = shutil.which("compliance-checker") or str(Path(sys.executable).parent / "compliance-checker")
    proc = subprocess.run([checker, "--test", "cf:1.8", "--test", "acdd:1.3",
                           "-f", "json", "-o", str(out), str(nc)], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(out.read_text())
    cf, acdd = result["cf:1.8"], result["acdd:1.3"]
    assert cf["high_count"] == 0 and cf["medium_count"] == 0 and cf["scored_points"] == cf["possible_points"]
    assert acdd["high_count"] == 0
    medium = {p["name"] for p in acdd["medium_priorities"] if p["msgs"]}
    # Accepted: no vertical axis; UTM x/y read as lat/lon by the ACDD extent check (docs/netcdf.md).
    assert medium <= {"Global Attributes", "geospatial_lat_extents_match", "geospatial_lon_extents_match"}


def test_cubes_catalogued_and_valid(cubes, schemas_dir) -> None:
    root, _, _ = cubes
    coll = json.loads((root / "catalog/cubes/collection.json").read_text())
    assert sum(link["rel"] == "item" for link in coll["links"]) == 6
    item = json.loads((root / "catalog/cubes/NDVI_40KCB_masked-cm001_20220104_20221110.json").read_text())
    assert item["properties"]["cube:dimensions"]["time"]["values"][0] == "2022-01-04T06:36:11Z"
    assert (root / "catalog/cubes" / item["assets"]["netcdf"]["href"]).resolve().is_file()
    assert sum(link["rel"] == "derived_from" for link in item["links"]) == 5
    root_cat = json.loads((root / "catalog/catalog.json").read_text())
    assert "./cubes/collection.json" in [link["href"] for link in root_cat["links"] if link["rel"] == "child"]
    assert len(load_items(root / "catalog")) == 30  # cubes do not mix into the index items
    assert main(["validate", str(root / "catalog"), "--schemas", str(schemas_dir)]) == 0
    thredds = ElementTree.parse(root / "netcdf/catalog.xml").getroot()
    ns = {"t": "http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0"}
    assert len(thredds.findall(".//t:dataset/t:dataset", ns)) == 6


def test_incremental_new_date_rewrites_only_its_series(cubes, tmp_path) -> None:
    root, config, _ = cubes
    work = tmp_path / "w"
    shutil.copytree(root, work)
    again = export(work / "catalog", work / "netcdf", config, progress=False)
    assert again.written == [] and len(again.unchanged) == 6
    write_product(work / "INDICES", ProductSpec(index="MNDWI", tile="40KCB",
                                                sensing=datetime(2022, 12, 20, 6, 36, 11, tzinfo=timezone.utc)))
    index_tree(str(work / "INDICES"), str(work / "catalog"), load_config(None), workers=1, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in (work / "netcdf").glob("*.nc")}
    report = export(work / "catalog", work / "netcdf", config, progress=False)
    assert report.written == ["MNDWI_40KCB_masked-cm001_20220104_20221220.nc"]
    assert report.removed == ["MNDWI_40KCB_masked-cm001_20220104_20221110.nc"]
    after = {p.name: p.stat().st_mtime_ns for p in (work / "netcdf").glob("*.nc")}
    assert {k: v for k, v in after.items() if k in before} == {k: v for k, v in before.items() if k in after}
    with netCDF4.Dataset(work / "netcdf/MNDWI_40KCB_masked-cm001_20220104_20221220.nc") as nc:
        assert nc.dimensions["time"].size == 6


def test_raw_asset_resolution_and_distributed_scheduler(cubes, tmp_path) -> None:
    from distributed import LocalCluster

    root, config, _ = cubes
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        code = main(["netcdf", str(root / "catalog"), "--out", str(tmp_path), "--index", "NDVI", "--tile", "40KCB",
                     "--asset", "index", "--resolution", "360", "--scheduler", cluster.scheduler_address])
    assert code == 0
    path = tmp_path / "NDVI_40KCB_index_20220104_20221110.nc"
    refs = load_items(root / "catalog", index="NDVI", tile="40KCB")
    with netCDF4.Dataset(path) as nc:
        var = nc["ndvi"]
        var.set_auto_maskandscale(False)
        data = var[:]
        assert "Raw index" in nc.comment
    assert data.shape == (5, 305, 305)
    # Nearest resampling by 2: the centre of each 360 m cell falls on a source pixel corner; compare a sample.
    full = _expected(refs[2].asset_href("index"), 16383)
    assert (data[2] == full[1::2, 1::2]).mean() > 0.95


def test_mixed_crs_is_refused(demo) -> None:
    refs = load_items(demo[0], index="NDVI")
    odd = refs[0].item | {"properties": {**refs[0].item["properties"], "proj:code": "EPSG:32738"}}
    series = Series("NDVI", "40KCB", "index", [ItemRef(refs[0].path, odd), *[r for r in refs if r.tile == "40KCB"][1:]])
    with pytest.raises(CubeError, match="different CRS"):
        grid_of(series)
