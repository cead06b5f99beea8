"""`serve --cubes`: the NetCDF cubes over ERDDAP griddap and OPeNDAP, read remotely with netCDF4 and xarray
(pydap engine) and compared value for value with the local files; the CRS survives remote access."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from pyproj import CRS

pytest.importorskip("xpublish_erddap", reason="xpublish-erddap not installed")
pytest.importorskip("xpublish_opendap", reason="xpublish-opendap not installed")
pytest.importorskip("pydap", reason="pydap not installed")

import xarray as xr

from sen2val_stac.config import load_config
from sen2val_stac.derive.netcdf.catalogue import read_grid
from sen2val_stac.derive.netcdf.export import export
from sen2val_stac.serve.cubes import dap_parser_swaps_stride, running_cube_server

CUBE = "NDVI_40KCB_masked-cm001_20220104_20221110"
EPSG = 32740
# Slices and strided subsets (time, y, x), including single elements and a stride longer than the axis.
SUBSETS = [
    (slice(1, 2), slice(100, 200), slice(300, 420)),
    (slice(0, 5, 2), slice(10, 600, 7), slice(3, 500, 5)),
    (slice(4, 5), slice(0, 610, 61), slice(609, 610)),
    (slice(0, 5), slice(600, 610, 3), slice(0, 610, 100)),
    (slice(2, 3), slice(5, 6), slice(5, 6)),
]


@pytest.fixture(scope="module")
def served(demo, tmp_path_factory):
    """The demo's NDVI cubes exported once and served with the catalogue: ``(base URL, cubes folder)``."""
    root = tmp_path_factory.mktemp("served-cubes")
    shutil.copytree(demo[0].parent / "INDICES", root / "INDICES")
    shutil.copytree(demo[0], root / "catalog")
    report = export(root / "catalog", root / "netcdf", load_config(None), index="NDVI", progress=False)
    assert sorted(report.written) == sorted([f"{CUBE}.nc", "NDVI_38KQE_masked-cm001_20220106_20221112.nc"])
    with running_cube_server(root / "catalog", root / "netcdf", [root / "INDICES"]) as base:
        yield base, root / "netcdf"


def _local(folder: Path) -> np.ndarray:
    with netCDF4.Dataset(folder / f"{CUBE}.nc") as nc:
        nc.set_auto_maskandscale(False)
        return nc["ndvi"][:]


def _urls(base: str) -> dict[str, str]:
    return {"erddap": f"{base}/cubes/erddap/griddap/{CUBE.replace('-', '_')}",
            "opendap": f"{base}/cubes/datasets/{CUBE}/opendap"}


def _dap2(url: str) -> str:
    """The DAP2 URL for pydap: plain ``http://`` (pydap assumes DAP2, with a warning). Its ``dap2://`` scheme
    tries HTTPS first and falls back to HTTP only after its retries (pydap 3.5.9): slow on a plain-HTTP server."""
    return url


@pytest.mark.parametrize("endpoint", ["erddap", "opendap"])
def test_netcdf4_reads_slices_and_strides_value_for_value(served, endpoint) -> None:
    base, folder = served
    local = _local(folder)
    with netCDF4.Dataset(_urls(base)[endpoint]) as nc:
        var = nc["ndvi"]
        var.set_auto_maskandscale(False)
        assert var.dtype == np.int16 and var.shape == local.shape and var._FillValue == 16383
        assert np.float32(var.scale_factor) == np.float32(1e-4) and var.grid_mapping == "crs"
        for subset in SUBSETS:
            np.testing.assert_array_equal(var[subset], local[subset], err_msg=f"{endpoint} {subset}")
        with netCDF4.Dataset(folder / f"{CUBE}.nc") as here:
            np.testing.assert_array_equal(nc["time"][:], here["time"][:])
            np.testing.assert_array_equal(nc["x"][::50], here["x"][::50])
        np.testing.assert_array_equal(var[:], local)


@pytest.mark.parametrize("endpoint", ["erddap", "opendap"])
def test_xarray_pydap_reads_slices_and_strides_value_for_value(served, endpoint) -> None:
    base, folder = served
    local = _local(folder)
    ds = xr.open_dataset(_dap2(_urls(base)[endpoint]), engine="pydap", mask_and_scale=False)
    assert ds["ndvi"].dtype == np.int16 and ds["ndvi"].attrs["_FillValue"] == 16383
    for subset in SUBSETS:
        np.testing.assert_array_equal(ds["ndvi"][subset].values, local[subset], err_msg=f"{endpoint} {subset}")
        np.testing.assert_array_equal(ds["ndvi"].isel(time=subset[0], y=subset[1], x=subset[2]).values, local[subset])
    assert str(ds["time"].values[0]) == "2022-01-04T06:36:11.000000000"
    decoded = xr.open_dataset(_dap2(_urls(base)[endpoint]), engine="pydap")  # CF decoding on the client
    expected = np.where(local[1] == 16383, np.nan, local[1] * np.float32(1e-4))
    np.testing.assert_allclose(decoded["ndvi"][1].values, expected, rtol=1e-6)


def test_crs_survives_remote_access(served) -> None:
    base, _ = served
    urls = _urls(base)
    with netCDF4.Dataset(urls["erddap"]) as nc:  # ERDDAP drops the grid-mapping variable: global attributes remain
        assert "crs" not in nc.variables
        assert CRS.from_wkt(nc.crs_wkt).to_epsg() == EPSG and nc.crs_code == f"EPSG:{EPSG}"
        assert nc.crs_geotransform.split()[:2] == ["300000.0", "180.0"]
    with netCDF4.Dataset(urls["opendap"]) as nc:  # OPeNDAP keeps the variable named `crs`
        assert CRS.from_wkt(nc["crs"].crs_wkt).to_epsg() == EPSG and nc["crs"].grid_mapping_name == "transverse_mercator"
        assert nc.crs_code == f"EPSG:{EPSG}"
    for url in urls.values():
        ds = xr.open_dataset(_dap2(url), engine="pydap")
        assert CRS.from_user_input(ds.attrs["crs_code"]).to_epsg() == EPSG


def test_dap_hyperslab_fix_is_needed_and_single_elements_work(served) -> None:
    """opendap-protocol 1.1.1 swaps stride and stop; without the rewrite pydap's ``time[0:1:0]`` crashes it."""
    base, folder = served
    assert dap_parser_swaps_stride()  # remove DapFix's swap once this fails (upstream fixed)
    with urllib.request.urlopen(f"{_urls(base)['opendap']}.dods?time[0:1:0]") as r:
        body = r.read()
    dds, data = body.split(b"\nData:\n", 1)
    assert b"Float64 time[time = 1]" in dds
    with netCDF4.Dataset(folder / f"{CUBE}.nc") as here:
        assert np.frombuffer(data[8:], ">f8")[0] == here["time"][0]


def test_a_new_cube_is_served_without_restart(served) -> None:
    base, folder = served
    shutil.copy(folder / f"{CUBE}.nc", folder / "copy_of_cube.nc")
    try:
        with urllib.request.urlopen(f"{base}/cubes/erddap/griddap/index.csv") as r:
            assert "copy_of_cube" in r.read().decode()
        with netCDF4.Dataset(f"{base}/cubes/datasets/copy_of_cube/opendap") as nc:
            nc.set_auto_maskandscale(False)
            np.testing.assert_array_equal(nc["ndvi"][3, ::9, ::9], _local(folder)[3, ::9, ::9])
    finally:
        (folder / "copy_of_cube.nc").unlink()


def test_static_catalogue_still_served_beside_the_cubes(served) -> None:
    base, _ = served
    with urllib.request.urlopen(f"{base}/") as r:  # redirected to the root catalogue
        assert r.geturl().endswith("/catalog/catalog.json") and b'"type": "Catalog"' in r.read()
    request = urllib.request.Request(f"{base}/catalog/catalog.json", headers={"Range": "bytes=0-9"})
    with urllib.request.urlopen(request) as r:
        assert r.status == 206 and len(r.read()) == 10
    with urllib.request.urlopen(f"{base}/cubes/erddap/griddap/index.csv") as r:
        assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_read_grid_reads_old_and_remote_style_cubes(served, tmp_path) -> None:
    """Cubes written before the rename (``spatial_ref``) and copies without the grid-mapping variable."""
    _, folder = served
    expected = read_grid(folder / f"{CUBE}.nc", "ndvi")
    assert expected.epsg == EPSG and expected.bounds == (300000.0, 7590220.0, 409800.0, 7700020.0)
    old = tmp_path / "old.nc"
    shutil.copy(folder / f"{CUBE}.nc", old)
    with netCDF4.Dataset(old, "a") as nc:
        nc.renameVariable("crs", "spatial_ref")
        nc["ndvi"].grid_mapping = "spatial_ref"
        for name in ("crs_wkt", "crs_code", "crs_geotransform"):
            nc.delncattr(name)
    assert read_grid(old, "ndvi") == expected
    remote = tmp_path / "remote.nc"
    with xr.open_dataset(folder / f"{CUBE}.nc", mask_and_scale=False) as ds:
        ds.drop_vars("crs").to_netcdf(remote)
    with netCDF4.Dataset(remote) as nc:
        assert "crs" not in nc.variables
    assert read_grid(remote, "ndvi") == expected


def test_cli_serve_cubes(served, tmp_path) -> None:
    """`sen2val-stac serve CATALOG --cubes DIR --port 0` prints its URLs and answers griddap."""
    _, folder = served
    catalog = folder.parent / "catalog"
    proc = subprocess.Popen([sys.executable, "-m", "sen2val_stac.cli", "serve", str(catalog), "--cubes", str(folder),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        deadline, lines = time.monotonic() + 120, []
        while time.monotonic() < deadline and not any("ERDDAP griddap:" in line for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        url = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("ERDDAP griddap:"))
        with urllib.request.urlopen(url.replace("index.html", "index.csv")) as r:
            assert CUBE.replace("-", "_") in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
