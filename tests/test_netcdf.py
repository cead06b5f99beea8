"""NetCDF cubes: values against the source rasters, CF/ACDD compliance, incremental runs, catalogue, schedulers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from xml.etree import ElementTree

import netCDF4
import numpy as np
import pytest
import rasterio
import xarray as xr

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.catalog.read import ItemRef, load_items
from sen2val_stac.cli import main
from sen2val_stac.config import load_config
from sen2val_stac.core.templates import index_definition
from sen2val_stac.demo.tree import ProductSpec, write_product
from sen2val_stac.derive.netcdf.assemble import (
    CubeError,
    Series,
    assemble,
    default_asset,
    fill_invalid,
    grid_of,
    usable_items,
)
from sen2val_stac.derive.netcdf.encode import chunk_codec, slabs, write_netcdf
from sen2val_stac.derive.netcdf.export import export
from sen2val_stac.validate.validation import (
    SchemaStore,
    validate_catalog,
    validate_document,
)

NODATA = 16383
EXPECTED_CUBES = sorted([
    "MNDWI_38KQE_masked-cm001_20220106_20221112.nc", "MNDWI_40KCB_masked-cm001_20220104_20221110.nc",
    "NDVI_38KQE_masked-cm001_20220106_20221112.nc", "NDVI_40KCB_masked-cm001_20220104_20221110.nc",
    "NDWIGAO_38KQE_masked-cm001_20220106_20221112.nc", "NDWIGAO_40KCB_masked-cm001_20220104_20220901.nc"])


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


def _copy(root: Path, dest: Path) -> Path:
    """A private copy of the tree and its catalogue (relative asset hrefs keep working)."""
    for name in ("INDICES", "catalog"):
        shutil.copytree(root / name, dest / name)
    return dest


def _expected(path: str, valid_range: tuple[int, int] = (-10000, 10000)) -> np.ndarray:
    """The source raster read with rasterio, lossy-JPEG2000 nodata smear and out-of-range values set to nodata."""
    with rasterio.open(path) as ds:
        a = ds.read(1)
    keep = (np.abs(a.astype(np.int32) - NODATA) > 256) & (a >= valid_range[0]) & (a <= valid_range[1])
    return np.where(keep, a, NODATA).astype(np.int16)


def _raw(path: Path, name: str) -> tuple[np.ndarray, list[datetime]]:
    with netCDF4.Dataset(path) as nc:
        var = nc[name]
        var.set_auto_maskandscale(False)
        times = netCDF4.num2date(nc["time"][:], nc["time"].units, nc["time"].calendar,
                                 only_use_cftime_datetimes=False)
        return var[:], [t.replace(tzinfo=timezone.utc) for t in times]


def test_cubes_written_and_skips_reported(cubes) -> None:
    root, _, report = cubes
    assert sorted(report.written) == EXPECTED_CUBES and report.errors == []
    assert sorted(p.name for p in (root / "netcdf").glob("*.nc")) == EXPECTED_CUBES
    assert not list((root / "netcdf").glob(".tmp-*"))
    assert report.skipped == ["NDWIGAO 40KCB: NDWIGAO_40KCB_20221110: no asset 'masked-cm001'"]
    with netCDF4.Dataset(root / "netcdf/NDWIGAO_40KCB_masked-cm001_20220104_20220901.nc") as nc:
        assert "skipped NDWIGAO_40KCB_20221110: no asset 'masked-cm001'" in nc.history
        assert nc.dimensions["time"].size == 4


def test_every_cube_equals_its_sources_pixel_for_pixel(cubes) -> None:
    """Every cube, read with netCDF4 (packed) and xarray (decoded), against rasterio reads of its sources."""
    root, _, _ = cubes
    smeared = 0
    for path in sorted((root / "netcdf").glob("*.nc")):
        index, tile, asset = path.name.split("_")[:3]
        definition = index_definition(index)
        refs = [r for r in load_items(root / "catalog", index=index, tile=tile) if asset in r.item["assets"]]
        band = refs[0].item["assets"][asset]["raster:bands"][0]
        name = index.lower()
        with netCDF4.Dataset(path) as nc:
            var = nc[name]
            assert var.dtype == np.int16 and isinstance(var._FillValue, np.int16) and var._FillValue == NODATA
            assert isinstance(var.scale_factor, np.float32) and var.scale_factor == np.float32(band["scale"])
            assert var.add_offset == np.float32(band["offset"])
            assert isinstance(var.valid_min, np.int16) and [var.valid_min, var.valid_max] == definition["valid_range"]
            assert getattr(var, "standard_name", None) == definition["standard_name"]
            assert var.chunking() == [min(8, len(refs)), 256, 256]
            assert var.filters()["zlib"] and var.filters()["shuffle"] and var.grid_mapping == "crs"
            assert "CM001 (Sen2Cor cloud probability" in var.comment
            assert nc["time"].units == "seconds since 1970-01-01 00:00:00" and nc["time"].dtype == np.float64
            assert "_FillValue" not in nc["time"].ncattrs() and nc["crs"].dtype == np.int32
            assert nc["crs"].grid_mapping_name == "transverse_mercator" and nc.crs_code == refs[0].item["properties"]["proj:code"]
            assert nc["x"].standard_name == "projection_x_coordinate" and nc["x"].units == "m"
            assert nc.source.endswith(", ".join(r.id for r in refs))
            x, y = nc["x"][:], nc["y"][:]
        raw, times = _raw(path, name)
        assert times == [r.datetime for r in refs]
        west, _, _, north = refs[0].item["properties"]["proj:bbox"]
        assert x[0] == west + 90 and y[0] == north - 90 and raw.shape == (len(refs), 610, 610)
        with xr.open_dataset(path) as ds:
            assert list(ds["time"].values) == [np.datetime64(r.datetime.replace(tzinfo=None), "ns") for r in refs]
            assert ds[name].dtype == np.float32
            decoded = ds[name].values
        for i, ref in enumerate(refs):
            with rasterio.open(ref.asset_href(asset)) as src:
                source = src.read(1)
            smeared += int(((source != NODATA) & (np.abs(source.astype(np.int32) - NODATA) <= 256)).sum())
            expected = _expected(ref.asset_href(asset), tuple(definition["valid_range"]))
            np.testing.assert_array_equal(raw[i], expected, err_msg=f"{path.name} {ref.id}")
            np.testing.assert_array_equal(
                decoded[i], np.where(expected == NODATA, np.nan, expected * np.float32(band["scale"])))
    assert smeared > 1000  # the lossy nodata smear is there in the sources, and filled in the cubes


def test_compliance_checker_no_high_priority_failure(cubes, tmp_path) -> None:
    root, _, _ = cubes
    checker = shutil.which("compliance-checker") or str(Path(sys.executable).parent / "compliance-checker")
    # NDVI has a CF standard name, NDWIGAO none (long_name only).
    for name in ("NDVI_40KCB_masked-cm001_20220104_20221110.nc", "NDWIGAO_40KCB_masked-cm001_20220104_20220901.nc"):
        out = tmp_path / f"{name}.json"
        proc = subprocess.run([checker, "--test", "cf:1.8", "--test", "acdd:1.3", "-f", "json", "-o", str(out),
                               str(root / "netcdf" / name)], capture_output=True, text=True)
        assert proc.returncode in (0, 1), proc.stderr
        result = json.loads(out.read_text())
        cf, acdd = result["cf:1.8"], result["acdd:1.3"]
        assert cf["high_count"] == 0 and cf["medium_count"] == 0 and cf["scored_points"] == cf["possible_points"]
        high = [(p["name"], p["msgs"]) for p in acdd["high_priorities"] if p["msgs"]]
        index = name.split("_")[0]
        if index_definition(index)["standard_name"]:
            assert high == [] and acdd["high_count"] == 0
        else:
            # ACDD wants a standard_name on every data variable; CF has none for this index, and an invented one
            # would fail the CF table check. That is the one accepted high-priority ACDD remark (docs/netcdf.md).
            assert high == [(f'variable "{index.lower()}" missing the following attributes:', ["standard_name"])]
        medium = {p["name"] for p in acdd["medium_priorities"] if p["msgs"]}
        # Accepted: no vertical axis; UTM x/y read as lat/lon by the ACDD extent check (docs/netcdf.md).
        assert medium <= {"Global Attributes", "geospatial_lat_extents_match", "geospatial_lon_extents_match"}
        vertical = [m for p in acdd["medium_priorities"] if p["name"] == "Global Attributes" for m in p["msgs"]]
        assert all("vertical" in m for m in vertical), vertical


def test_cubes_catalogued_and_valid(cubes, schemas_dir) -> None:
    root, _, _ = cubes
    coll = json.loads((root / "catalog/cubes/collection.json").read_text())
    assert sum(link["rel"] == "item" for link in coll["links"]) == 6 and "sen2chain:index" not in json.dumps(coll)
    item = json.loads((root / "catalog/cubes/NDVI_40KCB_masked-cm001_20220104_20221110.json").read_text())
    props = item["properties"]
    dims = props["cube:dimensions"]
    assert dims["time"]["values"][0] == "2022-01-04T06:36:11Z" and dims["time"]["step"] is None
    assert dims["x"] == {"type": "spatial", "axis": "x", "extent": [300000.0, 409800.0], "step": 180.0,
                         "reference_system": 32740}
    assert props["cube:variables"]["ndvi"]["nodata"] == NODATA and props["proj:shape"] == [610, 610]
    assert [props[f"sen2chain:{k}"] for k in ("index", "tile", "asset")] == ["NDVI", "40KCB", "masked-cm001"]
    nc = (root / "catalog/cubes" / item["assets"]["netcdf"]["href"]).resolve()
    assert nc.is_file() and item["assets"]["netcdf"]["file:size"] == nc.stat().st_size
    derived = [link["href"] for link in item["links"] if link["rel"] == "derived_from"]
    assert len(derived) == 5 and all((root / "catalog/cubes" / h).resolve().is_file() for h in derived)
    root_cat = json.loads((root / "catalog/catalog.json").read_text())
    assert "./cubes/collection.json" in [link["href"] for link in root_cat["links"] if link["rel"] == "child"]
    assert len(load_items(root / "catalog")) == 30  # cubes do not mix into the index items

    store = SchemaStore(mirror=schemas_dir)
    result = validate_catalog(root / "catalog", store)
    assert result.ok, [str(e) for e in result.errors]
    cube_files = [f for f in result.files if "/cubes/" in f]
    assert len(cube_files) == 7  # the collection and its six items were reached and validated
    broken = {**item, "properties": {**props, "cube:dimensions": {**dims, "x": {**dims["x"], "type": "temporal"}}}}
    assert validate_document(broken, "broken.json", store)  # the datacube schema is really applied

    thredds = ElementTree.parse(root / "netcdf/catalog.xml").getroot()
    ns = {"t": "http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0"}
    services = {s.get("serviceType") for s in thredds.findall(".//t:service/t:service", ns)}
    assert services == {"OPeNDAP", "HTTPServer", "NetcdfSubset"}
    datasets = thredds.findall(".//t:dataset/t:dataset", ns)
    assert sorted(d.get("urlPath") for d in datasets) == EXPECTED_CUBES


def test_incremental_skip_and_rewrite_after_a_new_date(cubes, tmp_path) -> None:
    root, config, _ = cubes
    work = tmp_path / "w"
    shutil.copytree(root, work)
    start = time.perf_counter()
    again = export(work / "catalog", work / "netcdf", config, progress=False)
    assert again.written == [] and len(again.unchanged) == 6 and again.removed == []
    assert time.perf_counter() - start < 5  # no raster read: fingerprints only
    write_product(work / "INDICES", ProductSpec(index="MNDWI", tile="40KCB",
                                                sensing=datetime(2022, 12, 20, 6, 36, 11, tzinfo=timezone.utc)))
    index_tree(str(work / "INDICES"), str(work / "catalog"), load_config(None), workers=1, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in (work / "netcdf").glob("*.nc")}
    report = export(work / "catalog", work / "netcdf", config, progress=False)
    new, old = "MNDWI_40KCB_masked-cm001_20220104_20221220", "MNDWI_40KCB_masked-cm001_20220104_20221110"
    assert report.written == [f"{new}.nc"] and report.removed == [f"{old}.nc"]
    after = {p.name: p.stat().st_mtime_ns for p in (work / "netcdf").glob("*.nc")}
    assert {k: v for k, v in after.items() if k in before} == {k: v for k, v in before.items() if k in after}
    assert not (work / f"netcdf/{old}.nc").exists() and not (work / f"catalog/cubes/{old}.json").exists()
    assert json.loads((work / f"catalog/cubes/{new}.json").read_text())["properties"]["end_datetime"] == \
        "2022-12-20T06:36:11Z"
    with netCDF4.Dataset(work / f"netcdf/{new}.nc") as nc:
        assert nc.dimensions["time"].size == 6
    # A time-filtered extract is written beside the full-series cube, which stays.
    extract = export(work / "catalog", work / "netcdf", config, index="MNDWI", tile="40KCB", start="2022-06-01",
                     progress=False)
    assert extract.written == ["MNDWI_40KCB_masked-cm001_20220613_20221220.nc"] and extract.removed == []
    assert (work / f"netcdf/{new}.nc").exists() and (work / f"catalog/cubes/{new}.json").exists()


def test_resampling_and_schedulers(cubes, tmp_path) -> None:
    """``--resolution 360`` (nearest) on the local-processes and a distributed scheduler, same bytes as threads."""
    from distributed import LocalCluster

    root = _copy(cubes[0], tmp_path / "w")
    base = ["netcdf", str(root / "catalog"), "--index", "NDVI", "--tile", "40KCB", "--asset", "index",
            "--resolution", "360"]
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1", protocol="tcp",
                      dashboard_address="127.0.0.1:0") as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert main([*base, "--out", str(tmp_path / "dist"), "--scheduler", cluster.scheduler_address]) == 0
    assert main([*base, "--out", str(tmp_path / "procs"), "--scheduler", "processes"]) == 0
    assert main([*base, "--out", str(tmp_path / "threads")]) == 0
    name = "NDVI_40KCB_index_20220104_20221110.nc"
    refs = load_items(root / "catalog", index="NDVI", tile="40KCB")
    data, times = _raw(tmp_path / "threads" / name, "ndvi")
    assert data.shape == (5, 305, 305) and times == [r.datetime for r in refs]
    for ref, plane in zip(refs, data, strict=False):
        # Nearest by a factor 2: each 360 m centre falls on a source pixel corner; GDAL takes the lower-right pixel.
        np.testing.assert_array_equal(plane, _expected(ref.asset_href("index"))[1::2, 1::2])
    for other in ("dist", "procs"):
        np.testing.assert_array_equal(_raw(tmp_path / other / name, "ndvi")[0], data)
    with netCDF4.Dataset(tmp_path / "threads" / name) as nc:
        assert "Raw index" in nc.comment and nc["x"][1] - nc["x"][0] == 360
    # The native-resolution cube of the same series is not "unchanged": the grid is in the fingerprint.
    report = export(root / "catalog", tmp_path / "threads", load_config(None), index="NDVI", tile="40KCB",
                    asset="index", progress=False)
    assert report.written == [name] and report.unchanged == []
    assert _raw(tmp_path / "threads" / name, "ndvi")[0].shape == (5, 610, 610)


def test_unreadable_asset_is_skipped_and_recorded(cubes, tmp_path) -> None:
    work = _copy(cubes[0], tmp_path / "w")
    config = cubes[1]
    refs = load_items(work / "catalog", index="NDVI", tile="38KQE")
    broken = Path(refs[2].asset_href("masked-cm001"))
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])  # an interrupted copy
    report = export(work / "catalog", work / "out", config, index="NDVI", tile="38KQE", progress=False)
    assert report.errors == [] and len(report.skipped) == 1
    assert report.skipped[0].startswith(f"NDVI 38KQE: {refs[2].id}: asset 'masked-cm001' unreadable ({broken}")
    (path,) = (work / "out").glob("*.nc")
    with netCDF4.Dataset(path) as nc:
        assert nc.dimensions["time"].size == 4
        assert f"skipped {refs[2].id}: asset 'masked-cm001' unreadable" in nc.history
        assert refs[2].id not in nc.source


def test_mixed_crs_is_refused_naming_the_items(demo) -> None:
    refs = [r for r in load_items(demo[0], index="NDVI") if r.tile == "40KCB"]
    odd = refs[0].item | {"properties": {**refs[0].item["properties"], "proj:code": "EPSG:32738"}}
    series = Series("NDVI", "40KCB", "index", [ItemRef(refs[0].path, odd), *refs[1:]])
    with pytest.raises(CubeError, match=f"different CRS .*{refs[0].id}=EPSG:32738, {refs[1].id}=EPSG:32740"):
        grid_of(series)
    with pytest.raises(CubeError, match="different CRS"):
        assemble(series)
    assert grid_of(Series("NDVI", "40KCB", "index", refs[1:]))[0] == 32740


@pytest.mark.parametrize("extra, message", [
    (["--chunks", "8,256"], "three positive integers"), (["--chunks", "8,a,256"], "three integers"),
    (["--scheduler", "gpu"], "unknown scheduler 'gpu'"), (["--start", "yesterday"], "not a date"),
])
def test_cli_usage_errors(cubes, tmp_path, capsys, extra, message) -> None:
    root, _, _ = cubes
    assert main(["netcdf", str(root / "catalog"), "--out", str(tmp_path / "out"), *extra]) == 2
    assert message in capsys.readouterr().err and not list((tmp_path / "out").glob("*.nc"))


def test_fill_rule_stays_in_int16() -> None:
    block = np.array([[32767, 32511, 32510, -10001, -10000, 10000, 10001, 16383]], dtype=np.int16)
    out = fill_invalid(block, 32767, [-10000, 10000], 256)
    assert out.dtype == np.int16
    assert out.tolist() == [[32767, 32767, 32767, 32767, -10000, 10000, 32767, 32767]]
    expected = [[32767, 32767, 32510, -10001, -10000, 10000, 10001, 16383]]
    assert fill_invalid(block, 32767, None, 256).tolist() == expected
    assert fill_invalid(block, 32767, None, 0).tolist() == block.tolist()


def test_streamed_write_slab_by_slab(tmp_path) -> None:
    """The data variable is written one slab (a block along time and y, all of x) at a time: every value once,
    the same values, chunking and filters as asked."""
    import dask.array as da

    chunks = ((3, 3, 1), (4, 2), (5,))
    regions = list(slabs(chunks))
    assert regions == [(slice(t0, t1), slice(y0, y1), slice(None))
                       for t0, t1 in ((0, 3), (3, 6), (6, 7)) for y0, y1 in ((0, 4), (4, 6))]
    values = np.arange(7 * 6 * 5, dtype=np.int16).reshape(7, 6, 5)
    seen = np.zeros(values.shape, dtype=int)
    for region in regions:
        seen[region] += 1
    assert (seen == 1).all()
    ds = xr.Dataset({"v": (("time", "y", "x"), da.from_array(values, chunks=chunks))},
                    coords={"time": np.arange(7.0), "y": np.arange(6.0), "x": np.arange(5.0)})
    encoding = {"v": {"dtype": "int16", "_FillValue": np.int16(-1), "zlib": True, "shuffle": True, "complevel": 4,
                      "chunksizes": (3, 2, 5)}}
    assert write_netcdf(ds, encoding, str(tmp_path / "cube.nc")) == ["v"]
    with netCDF4.Dataset(tmp_path / "cube.nc") as nc:
        assert (nc["v"][:] == values).all()
        assert nc["v"].chunking() == [3, 2, 5]
        assert nc["v"].filters()["zlib"] and nc["v"].filters()["shuffle"] and nc["v"].filters()["complevel"] == 4
    assert list(tmp_path.iterdir()) == [tmp_path / "cube.nc"]


def _h5_description(path: Path) -> dict[str, object]:
    """What h5py reads of a file's variables: values, type, shape, chunking, filter pipeline, fill value."""
    import h5py

    with h5py.File(path) as h5:
        return {name: (d[()].tolist(), d.dtype.str, d.shape, d.chunks, d.compression, d.compression_opts, d.shuffle,
                       d.fletcher32, repr(d.fillvalue))  # repr: NaN fill values compare equal
                for name, d in h5.items()}


def _nc_description(path: Path) -> dict[str, object]:
    """What netCDF4 reads of a file: dimensions, global attributes; per variable raw and decoded values,
    chunking, filters, attributes."""
    with netCDF4.Dataset(path) as nc:
        described: dict[str, object] = {"dims": {k: len(d) for k, d in nc.dimensions.items()},
                                        "attrs": {k: repr(nc.getncattr(k)) for k in nc.ncattrs()}}
        for name, var in nc.variables.items():
            decoded = var[:]
            var.set_auto_maskandscale(False)
            described[name] = (var[:].tolist(), np.ma.getmaskarray(decoded).tolist(), np.ma.filled(decoded, 0).tolist(),
                               var.dimensions, var.chunking(), var.filters(),
                               {k: repr(var.getncattr(k)) for k in var.ncattrs()})
        return described


@pytest.mark.parametrize(("dask_chunks", "settings", "direct"), [
    # NetCDF chunks whole in each slab; 11 x 37 x 53 leaves edge chunks on every axis
    (((4, 4, 3), (32, 5), (53,)), {"zlib": True, "shuffle": True, "complevel": 4}, ["v"]),
    (((8, 3), (16, 16, 5), (20, 33)), {"zlib": True, "shuffle": False, "complevel": 1}, ["v"]),
    # chunks across slabs, no compression, another filter: netCDF4 (HDF5) writes
    (((3, 3, 3, 2), (37,), (53,)), {"zlib": True, "shuffle": True, "complevel": 4}, []),
    (((4, 4, 3), (32, 5), (53,)), {"zlib": False, "complevel": 0}, []),
    (((4, 4, 3), (32, 5), (53,)), {"zlib": True, "shuffle": True, "complevel": 0}, []),  # config complevel 0
    (((4, 4, 3), (32, 5), (53,)), {"zlib": True, "shuffle": True, "complevel": 4, "fletcher32": True}, []),
])
def test_direct_chunks_same_file_as_to_netcdf(tmp_path, dask_chunks, settings, direct) -> None:
    """Chunks compressed outside HDF5 (shuffle, deflate) decode, through netCDF4, HDF5 (h5py) and ncdump, to the
    same values, chunking, filters, fill value and attributes as xarray's own ``to_netcdf`` with that encoding;
    edge chunks padded; the variables that cannot take direct chunks are written by netCDF4."""
    import dask.array as da

    values = np.random.default_rng(11).integers(-10000, 10001, (11, 37, 53), dtype=np.int16)
    values[0, :5] = values[-1, -3:, -7:] = -32768  # fill values, some in the edge chunks
    data = xr.DataArray(da.from_array(values, chunks=dask_chunks), dims=("time", "y", "x"),
                        attrs={"units": "1", "scale_factor": np.float32(1e-4), "add_offset": np.float32(0),
                               "valid_min": np.int16(-10000), "valid_max": np.int16(10000)})
    ds = xr.Dataset({"v": data}, coords={"time": np.arange(11.0), "y": np.arange(37.0), "x": np.arange(53.0)},
                    attrs={"title": "edge chunks", "Conventions": "CF-1.8"})
    encoding = {"v": {"dtype": "int16", "_FillValue": np.int16(-32768), "chunksizes": (4, 16, 16), **settings}}
    ours, reference = tmp_path / "ours.nc", tmp_path / "reference.nc"
    assert write_netcdf(ds, encoding, str(ours)) == direct
    ds.to_netcdf(reference, encoding=encoding)
    assert _nc_description(ours) == _nc_description(reference)
    described = _h5_description(ours)
    assert described == _h5_description(reference)
    assert described["v"][0] == values.tolist() and described["v"][3] == (4, 16, 16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.nc", "reference.nc"]
    import h5py

    with h5py.File(ours) as h5:
        dset = h5["v"]
        assert dset.id.get_num_chunks() == 3 * 3 * 4  # every chunk stored, the edge ones too
        codec = chunk_codec(dset)
        if settings["zlib"] and settings["complevel"] and not settings.get("fletcher32"):
            assert codec is not None
            assert (codec.shape, codec.level, codec.shuffle, codec.fill) == ((4, 16, 16), settings["complevel"],
                                                                             settings["shuffle"], -32768)
        else:
            assert codec is None
    if shutil.which("ncdump"):
        headers = [subprocess.run(["ncdump", "-hs", str(p)], capture_output=True, text=True, check=True).stdout
                   for p in (ours, reference)]
        assert headers[0].replace("netcdf ours {", "netcdf reference {", 1) == headers[1]


def test_chunk_codec_is_hdf5s_shuffle_and_deflate(tmp_path) -> None:
    """A chunk encoded here is, once inflated, the byte for byte payload HDF5 stores for it (shuffled planes)."""
    import zlib

    import h5py

    values = np.arange(-600, 600, dtype="<i2").reshape(3, 20, 20)
    with h5py.File(tmp_path / "h.h5", "w") as h5:
        dset = h5.create_dataset("v", data=values, chunks=(2, 8, 8), shuffle=True, compression="gzip",
                                 compression_opts=5, fillvalue=7)
        codec = chunk_codec(dset)
        assert codec is not None and codec.level == 5 and codec.shuffle
        for offset, part in (((0, 8, 0), values[:2, 8:16, :8]), ((2, 16, 16), values[2:, 16:, 16:])):
            mask, stored = dset.id.read_direct_chunk(offset)
            padded = np.full((2, 8, 8), 7, dtype="<i2")
            padded[tuple(slice(0, n) for n in part.shape)] = part
            assert mask == 0 and zlib.decompress(stored) == zlib.decompress(codec.encode(part))
            assert zlib.decompress(stored) == padded.view(np.uint8).reshape(-1, 2).T.tobytes()
        assert chunk_codec(h5.create_dataset("plain", data=values, chunks=(2, 8, 8))) is None
        assert chunk_codec(h5.create_dataset("lzf", data=values, chunks=(2, 8, 8), compression="lzf")) is None


def test_default_asset_follows_the_preference(demo) -> None:
    ndvi, ndwigao = load_items(demo[0], index="NDVI"), load_items(demo[0], index="NDWIGAO")
    preference = ["masked-cm003-prb1-iter5", "index"]
    assert default_asset(ndvi, None, preference) == "masked-cm003-prb1-iter5"
    assert default_asset(ndwigao, None, preference) == "index"
    assert default_asset(ndwigao, None, ["masked-cm001", "index"]) == "masked-cm001"
    assert default_asset(ndvi, "index", preference) == "index"


def test_item_whose_bbox_misses_its_grid_is_skipped(demo) -> None:
    """stackstac silently fills such an item with nodata; it is skipped with a message instead."""
    refs = [r for r in load_items(demo[0], index="NDVI") if r.tile == "40KCB"]
    wrong = ItemRef(refs[1].path, refs[1].item | {"bbox": [10.0, 40.0, 11.0, 41.0]})
    series = usable_items("NDVI", "40KCB", "index", [refs[0], wrong, *refs[2:]])
    assert [r.id for r in series.items] == [r.id for i, r in enumerate(refs) if i != 1]
    assert series.skipped == [f"{refs[1].id}: bbox [10.0, 40.0, 11.0, 41.0] does not intersect its grid "
                              "(EPSG:32740 proj:bbox)"]
