"""Downstream readers on the demo catalogue: pystac, odc-stac, stackstac, GDAL /vsicurl/, geopandas, and an
absolute published catalogue walked over HTTP. Each example is in docs/downstream.md."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
from rasterio.windows import Window

from sen2val_stac.catalog.parquet import parquet_path
from sen2val_stac.cli import main
from sen2val_stac.serve.static import make_app, running_server

# GDAL over HTTP: no directory listing, no retries, only raster extensions fetched.
GDAL_HTTP = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".jp2,.tif",
             "GDAL_HTTP_MAX_RETRY": "0"}


@pytest.fixture(scope="module")
def catalog(demo) -> pystac.Catalog:
    return pystac.Catalog.from_file(str(demo[0] / "catalog.json"))


@pytest.fixture(scope="module")
def ndvi_40kcb(catalog) -> list[pystac.Item]:
    items = [i for i in catalog.get_items(recursive=True)
             if i.properties["sen2chain:index"] == "NDVI" and i.properties["sen2chain:tile"] == "40KCB"]
    return sorted(items, key=lambda i: i.datetime)


def _read(href: str) -> np.ndarray:
    with rasterio.Env(**GDAL_HTTP), rasterio.open(href) as ds:
        return ds.read(1)


def _source(item: pystac.Item, key: str = "index") -> np.ndarray:
    return _read(item.assets[key].get_absolute_href())


def test_pystac_walks_everything(catalog) -> None:
    assert sorted(c.id for c in catalog.get_children()) == ["mndwi", "ndvi", "ndwigao"]
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 30 and len({i.id for i in items}) == 30
    item = catalog.get_child("ndvi").get_item("NDVI_40KCB_20220104", recursive=True)
    assert item.ext.proj.code == "EPSG:32740" and item.ext.proj.shape == [610, 610]
    assert item.assets["index"].ext.raster.bands[0].nodata == 16383
    assert item.assets["index"].ext.file.size == Path(item.assets["index"].get_absolute_href()).stat().st_size
    assert "/INDICES/NDVI/40KCB/" in item.assets["masked-cm001"].get_absolute_href()  # beside the catalogue


def test_odc_stac_loads_series(ndvi_40kcb) -> None:
    import odc.stac

    ds = odc.stac.load(ndvi_40kcb, bands=["index"], chunks={})
    assert ds["index"].shape == (5, 610, 610) and ds.odc.crs.epsg == 32740
    assert list(ds.time.values.astype("datetime64[s]")) == [np.datetime64(i.datetime.replace(tzinfo=None), "s")
                                                            for i in ndvi_40kcb]
    values = ds["index"].values
    for t, item in enumerate(ndvi_40kcb):
        np.testing.assert_array_equal(values[t], _source(item))


def test_stackstac_loads_series_pixel_exact(ndvi_40kcb) -> None:
    import stackstac

    items = [i.clone() for i in ndvi_40kcb]
    for item in items:  # stackstac wants absolute hrefs
        for asset in item.assets.values():
            asset.href = asset.get_absolute_href()
    stack = stackstac.stack(items, assets=["index"], epsg=32740, resolution=180,
                            bounds=tuple(items[0].properties["proj:bbox"]), snap_bounds=False, xy_coords="center",
                            dtype="int16", fill_value=np.int16(16383), rescale=False)
    assert stack.shape == (5, 1, 610, 610)
    assert float(stack.x[0]) == items[0].properties["proj:bbox"][0] + 90  # pixel centres
    values = stack.values
    for t, item in enumerate(ndvi_40kcb):
        np.testing.assert_array_equal(values[t, 0], _source(item))


def test_gdal_reads_an_asset_through_vsicurl(demo, ndvi_40kcb) -> None:
    catalog_dir = demo[0]
    app = make_app(catalog_dir, [catalog_dir.parent / "INDICES"])
    item = ndvi_40kcb[1]
    local = Path(item.assets["masked-cm001"].get_absolute_href())
    with running_server(app) as (base, _):
        url = "/vsicurl/" + base + app.url_path(local)
        with rasterio.Env(**GDAL_HTTP), rasterio.open(url) as ds, rasterio.open(local) as ref:
            assert (ds.crs, ds.transform, ds.nodata) == (ref.crs, ref.transform, ref.nodata)
            window = Window(100, 200, 64, 32)
            np.testing.assert_array_equal(ds.read(1, window=window), ref.read(1, window=window))
            np.testing.assert_array_equal(ds.read(1), ref.read(1))


def test_geoparquet_index_loads_in_geopandas(demo) -> None:
    frame = gpd.read_parquet(parquet_path(demo[0]))
    assert len(frame) == 30 and frame["id"].is_unique and frame.crs.to_epsg() == 4326
    assert set(frame["sen2chain:index"]) == {"NDVI", "NDWIGAO", "MNDWI"}
    assert frame.geometry.is_valid.all()
    ndvi = frame[(frame["sen2chain:index"] == "NDVI") & (frame["sen2chain:tile"] == "40KCB")]
    assert len(ndvi) == 5


def _hrefs(doc: dict) -> list[str]:
    return [link["href"] for link in doc.get("links", []) if link["rel"] != "license"]


@pytest.fixture(scope="module")
def www(demo, tmp_path_factory) -> Path:
    """The published layout: www/INDICES (a copy of the demo's rasters) beside www/stac (its catalogue)."""
    folder = tmp_path_factory.mktemp("www")
    shutil.copytree(demo[0].parent / "INDICES", folder / "INDICES")
    assert main(["index", str(folder / "INDICES"), "--catalog", str(folder / "stac"), "--workers", "1",
                 "--no-progress"]) == 0
    return folder


def _publish(www: Path, *args: str) -> None:
    """Re-render the catalogue of ``www`` with absolute links (state reused: no raster read again)."""
    assert main(["index", str(www / "INDICES"), "--catalog", str(www / "stac"), "--no-progress", *args]) == 0
    for path in [p for p in (www / "stac").rglob("*.json") if ".sen2val" not in p.parts]:
        assert _hrefs(json.loads(path.read_text())), path


def _walk_published(root: str, local_indices: Path) -> str:
    """Walk the catalogue at ``root`` with pystac; read one asset through /vsicurl/; return that asset's URL."""
    catalog = pystac.Catalog.from_file(root + "catalog.json")
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 30
    item = next(i for i in items if i.id == "NDVI_40KCB_20220104")
    assert item.get_self_href() == root + "ndvi/40KCB/NDVI_40KCB_20220104.json"
    href = item.assets["index"].get_absolute_href()
    local = local_indices / "NDVI/40KCB" / item.properties["sen2chain:product_id"] / href.rsplit("/", 1)[1]
    np.testing.assert_array_equal(_read("/vsicurl/" + href), _read(str(local)))
    return href


def test_absolute_published_catalogue_walked_over_http(www, capsys) -> None:
    with running_server([www / "stac", www / "INDICES"]) as (base, app):
        root = base + app.url_path(www / "stac") + "/"
        _publish(www, "--root-href", root)
        assert "updated 30" in capsys.readouterr().out
        for path in [p for p in (www / "stac").rglob("*.json") if ".sen2val" not in p.parts]:
            assert all(h.startswith(root) for h in _hrefs(json.loads(path.read_text()))), path  # absolute links
        href = _walk_published(root, www / "INDICES")
        assert href.startswith(base + "/INDICES/NDVI/40KCB/")  # relative asset href resolved against the URL


def _guide_nginx_block() -> str:
    text = (Path(__file__).resolve().parents[1] / "docs" / "user-guide.md").read_text(encoding="utf-8")
    match = re.search(r"```nginx\n(.*?)```", text, re.S)
    assert match, "docs/user-guide.md has no nginx block"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def nginx(www, tmp_path):
    """nginx running the user guide's server block on the www folder; yields the base URL."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if binary is None:
        pytest.skip("nginx not installed (apt-get install nginx-light): the documented nginx block is not run")
    port = _free_port()
    server = (_guide_nginx_block().replace("listen 80;", f"listen 127.0.0.1:{port};")
              .replace("/srv/sen2val/", f"{www}/").replace("/DATA/S2/PRODUCTS/INDICES/", f"{www}/INDICES/"))
    temp = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"{user}daemon off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                    f"events {{}}\nhttp {{\naccess_log off;\n{temp}{server}}}\n")
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"nginx did not start: {proc.communicate()[1]} {(tmp_path / 'error.log').read_text()}")
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _http(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), b""


def test_documented_nginx_block_publishes_the_catalogue(www, nginx, tmp_path) -> None:
    config = tmp_path / "sen2val.yaml"
    config.write_text(f"root_href: {nginx}/stac/\nasset_href_base: {nginx}/INDICES/\n")
    _publish(www, "--config", str(config))
    href = _walk_published(f"{nginx}/stac/", www / "INDICES")
    assert href.startswith(f"{nginx}/INDICES/NDVI/40KCB/")  # asset_href_base

    status, headers, body = _http(f"{nginx}/stac/catalog.json", Origin="https://browser.example.org")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["Access-Control-Allow-Origin"] == "*" and json.loads(body)["type"] == "Catalog"
    status, headers, body = _http(href, Range="bytes=0-99")
    assert status == 206 and headers["Content-Type"] == "image/jp2" and len(body) == 100
    assert headers["Content-Range"].startswith("bytes 0-99/") and "Content-Range" in headers["Access-Control-Expose-Headers"]
    status, headers, _ = _http(f"{nginx}/stac/items.parquet", method="HEAD")
    assert status == 200 and headers["Content-Type"] == "application/vnd.apache.parquet"
    status, headers, _ = _http(f"{nginx}/stac/catalog.json", method="OPTIONS", Origin="https://browser.example.org",
                               **{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"})
    assert status == 204 and "Range" in headers["Access-Control-Allow-Headers"]
    assert _http(f"{nginx}/stac/.sen2val/state.json")[0] == 403


def test_asset_hrefs_do_not_depend_on_the_working_directory(demo, tmp_path, monkeypatch) -> None:
    from sen2val_stac.catalog.indexer import index_tree
    from sen2val_stac.config import load_config

    catalog_dir = tmp_path / "stac"
    shutil.copytree(demo[0], catalog_dir)  # the state is reused: items re-rendered, no raster read
    monkeypatch.chdir("/")
    index_tree(str(demo[0].parent / "INDICES"), str(catalog_dir), load_config(None),
               workers=1, progress=False)
    item = pystac.Item.from_file(str(catalog_dir / "ndvi/40KCB/NDVI_40KCB_20220104.json"))
    assert Path(item.assets["index"].get_absolute_href()).is_file()
