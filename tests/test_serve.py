"""The HTTP server: media types, CORS, byte ranges, conditional requests, refusal of path escapes,
GDAL /vsicurl/ reads, the CLI. A real server on 127.0.0.1 (ephemeral port), real HTTP; the escape
attempts go through http.client with raw request targets (urllib would normalise them)."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import Request, urlopen

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.config import load_config
from sen2val_stac.serve.static import make_app, running_server

GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_UNSAFESSL": "NO",
            "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.jp2", "GDAL_HTTP_MAX_RETRY": "0"}


def _raw(base: str, path: str, method: str = "GET", headers: dict | None = None) -> http.client.HTTPResponse:
    """One request with ``path`` sent as is (no normalisation); the body is read into ``.body``."""
    conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
    conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    conn.endheaders()
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


# --- a small tree of our own: catalogue + a data folder beside it + things that must stay private ---


def _write_raster(path: Path, driver: str, **extra) -> None:
    data = (np.arange(300 * 400, dtype=np.uint16).reshape(300, 400) % 9973).astype(np.uint16)
    profile = dict(driver=driver, width=400, height=300, count=1, dtype="uint16", crs="EPSG:32740",
                   transform=from_origin(300000, 7700020, 10, 10), nodata=0, **extra)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    top = tmp_path_factory.mktemp("served")
    catalog, data, private = top / "catalog", top / "INDICES", top / "private"
    for folder in (catalog / "ndvi" / "40KCB", catalog / ".sen2val", data / "NDVI", private):
        folder.mkdir(parents=True)
    (catalog / "catalog.json").write_text(json.dumps({"type": "Catalog", "id": "t", "links": []}))
    (catalog / "ndvi" / "collection.json").write_text(json.dumps({"type": "Collection", "id": "ndvi"}))
    (catalog / "footprints.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    (catalog / "items.parquet").write_bytes(b"PAR1" + bytes(64) + b"PAR1")
    (catalog / "cube.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    (catalog / "ndvi" / "40KCB" / "thumb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    (catalog / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (catalog / ".sen2val" / "state.json").write_text('{"secret": true}')
    (catalog / ".hidden.json").write_text('{"secret": true}')
    (private / "secret.txt").write_text("secret")
    _write_raster(data / "NDVI" / "ndvi.tif", "GTiff", tiled=True, blockxsize=128, blockysize=128)
    _write_raster(data / "NDVI" / "ndvi.jp2", "JP2OpenJPEG")
    # symlinks: out of the tree (refused), into a dot folder (refused), to the data folder (allowed)
    os.symlink("/etc", catalog / "ndvi" / "etc-link")
    os.symlink("/etc/passwd", catalog / "ndvi" / "passwd-link")
    os.symlink(private, catalog / "private-link")
    os.symlink(catalog / ".sen2val", catalog / "state-link")
    os.symlink(data / "NDVI" / "ndvi.tif", catalog / "ndvi" / "40KCB" / "ndvi-link.tif")
    return {"top": top, "catalog": catalog, "data": data, "private": private}


@pytest.fixture(scope="module")
def tree_server(tree):
    app = make_app(tree["catalog"], [tree["data"]])
    with running_server(app) as (base, _):
        yield base


@pytest.mark.parametrize(("path", "media"), [
    ("/catalog/catalog.json", "application/json"),
    ("/catalog/ndvi/collection.json", "application/json"),
    ("/catalog/footprints.geojson", "application/geo+json"),
    ("/catalog/items.parquet", "application/vnd.apache.parquet"),
    ("/catalog/cube.nc", "application/netcdf"),  # core/media_types.py: pystac.MediaType.NETCDF
    ("/catalog/ndvi/40KCB/thumb.png", "image/png"),
    ("/catalog/blob.bin", "application/octet-stream"),
    ("/INDICES/NDVI/ndvi.tif", "image/tiff"),
    ("/INDICES/NDVI/ndvi.jp2", "image/jp2"),
    ("/catalog/ndvi/40KCB/ndvi-link.tif", "image/tiff"),  # symlink to a file of a served data folder
])
def test_media_types(tree_server, tree, path, media) -> None:
    r = _raw(tree_server, path)
    assert r.status == 200, (path, r.status)
    assert r.getheader("Content-Type").split(";")[0] == media
    assert r.getheader("Access-Control-Allow-Origin") == "*"
    assert r.getheader("Accept-Ranges") == "bytes"
    assert int(r.getheader("Content-Length")) == len(r.body) == (tree["top"] / path[1:]).stat().st_size


def test_cors_preflight_and_error_answers(tree_server) -> None:
    pre = _raw(tree_server, "/INDICES/NDVI/ndvi.tif", "OPTIONS", {
        "Origin": "http://127.0.0.1:9999", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range, if-none-match"})
    assert pre.status == 204 and pre.body == b""
    assert pre.getheader("Access-Control-Allow-Origin") == "*"
    assert "GET" in pre.getheader("Access-Control-Allow-Methods")
    assert "range" in pre.getheader("Access-Control-Allow-Headers").lower()
    expose = {h.strip() for h in pre.getheader("Access-Control-Expose-Headers").split(",")}
    assert {"Content-Range", "Accept-Ranges", "Content-Length"} <= expose
    missing = _raw(tree_server, "/catalog/nothing.json", headers={"Origin": "http://x"})
    assert missing.status == 404 and missing.getheader("Access-Control-Allow-Origin") == "*"
    post = _raw(tree_server, "/catalog/catalog.json", "POST")
    assert post.status == 405 and "GET" in post.getheader("Allow")


def test_redirects_to_catalogues(tree_server) -> None:
    root = _raw(tree_server, "/")
    assert root.status == 302 and root.getheader("Location").endswith("/catalog/catalog.json")
    folder = _raw(tree_server, "/catalog/ndvi")
    assert folder.status == 302 and folder.getheader("Location").endswith("/catalog/ndvi/collection.json")
    assert _raw(tree_server, "/INDICES/NDVI/").status == 404  # no listings


def test_conditional_requests(tree_server) -> None:
    first = _raw(tree_server, "/catalog/catalog.json")
    etag, modified = first.getheader("ETag"), first.getheader("Last-Modified")
    assert etag and modified
    assert _raw(tree_server, "/catalog/catalog.json", headers={"If-None-Match": etag}).status == 304
    assert _raw(tree_server, "/catalog/catalog.json", headers={"If-Modified-Since": modified}).status == 304
    assert _raw(tree_server, "/catalog/catalog.json", headers={"If-None-Match": '"other"'}).status == 200


def test_range_requests(tree_server, tree) -> None:
    url, body = "/catalog/blob.bin", (tree["catalog"] / "blob.bin").read_bytes()
    size = len(body)
    r = _raw(tree_server, url, headers={"Range": "bytes=100-199"})
    assert r.status == 206 and r.getheader("Content-Range") == f"bytes 100-199/{size}" and r.body == body[100:200]
    assert r.getheader("Access-Control-Allow-Origin") == "*"
    r = _raw(tree_server, url, headers={"Range": "bytes=1000-"})
    assert r.status == 206 and r.body == body[1000:]
    r = _raw(tree_server, url, headers={"Range": "bytes=-10"})
    assert r.status == 206 and r.body == body[-10:] and r.getheader("Content-Range") == f"bytes {size - 10}-{size - 1}/{size}"
    head = _raw(tree_server, url, "HEAD", headers={"Range": "bytes=0-9"})
    assert head.status == 206 and head.body == b"" and head.getheader("Content-Length") == "10"
    unsat = _raw(tree_server, url, headers={"Range": f"bytes={size + 10}-{size + 20}"})
    assert unsat.status == 416 and unsat.getheader("Content-Range") == f"bytes */{size}"
    assert unsat.getheader("Access-Control-Allow-Origin") == "*"
    # what HTTP says to ignore is ignored (full 200), not refused
    for value in ("bytes=0-1,5-6", "bytes=abc", "lines=1-2"):
        r = _raw(tree_server, url, headers={"Range": value})
        assert r.status == 200 and r.body == body, value
    etag = _raw(tree_server, url, "HEAD").getheader("ETag")
    assert _raw(tree_server, url, headers={"Range": "bytes=0-9", "If-Range": etag}).status == 206
    assert _raw(tree_server, url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}).status == 200


@pytest.mark.parametrize("path", [
    "/catalog/../private/secret.txt",
    "/catalog/../../../../../../etc/passwd",
    "/catalog/%2e%2e/private/secret.txt",
    "/catalog/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/catalog/.%2e/private/secret.txt",
    "/catalog/%2e%2e%2fprivate%2fsecret.txt",
    "/catalog%2fcatalog.json",
    "/catalog/ndvi%2Fcollection.json",
    "/catalog/%252e%252e/private/secret.txt",
    "/private/secret.txt",
    "/etc/passwd",
    "//etc/passwd",
    "/%2fetc/passwd",
    "/catalog/..\\private\\secret.txt",
    "/catalog/%5c..%5cprivate%5csecret.txt",
    "/catalog/catalog.json%00.png",
    "/catalog/%00",
    "/catalog/ndvi/etc-link/passwd",
    "/catalog/ndvi/passwd-link",
    "/catalog/private-link/secret.txt",
    "/catalog/state-link/state.json",
    "/catalog/.sen2val/state.json",
    "/catalog/.sen2val/",
    "/catalog/.hidden.json",
    "/catalog/%2esen2val/state.json",
    "/INDICES/NDVI/../../private/secret.txt",
    "http://127.0.0.1/catalog/../private/secret.txt",
    "catalog/catalog.json",
    "/catalog/%ff%fe",
])
def test_escapes_refused(tree_server, path) -> None:
    r = _raw(tree_server, path)
    assert r.status in (400, 403, 404), (path, r.status)
    assert b"secret" not in r.body and b"root:" not in r.body


def test_refusals_do_not_hide_the_tree(tree_server) -> None:
    """The checks refuse escapes, not the ordinary paths beside them."""
    assert _raw(tree_server, "http://127.0.0.1/catalog/catalog.json").status == 200  # absolute-form target
    assert _raw(tree_server, "/catalog//ndvi/collection.json").status == 200
    assert _raw(tree_server, "/catalog/catalog.json?x=../../etc/passwd").status == 200


@pytest.mark.parametrize("name", ["ndvi.tif", "ndvi.jp2"])
def test_gdal_reads_windows_through_vsicurl(tree_server, tree, caplog, name) -> None:
    """GDAL opens a raster of a data folder through /vsicurl/ and reads a window with range requests."""
    local = tree["data"] / "NDVI" / name
    url = f"{tree_server}/INDICES/NDVI/{name}"
    window = Window(130, 70, 64, 48)
    caplog.set_level(logging.INFO, logger="sen2val_stac.serve.static")
    with rasterio.Env(**GDAL_ENV), rasterio.open(f"/vsicurl/{url}") as remote:
        got = remote.read(1, window=window)
        assert remote.crs.to_epsg() == 32740 and remote.shape == (300, 400)
    with rasterio.open(local) as ds:
        want = ds.read(1, window=window)
    np.testing.assert_array_equal(got, want)
    assert got.any()
    lines = [r.getMessage() for r in caplog.records if f"/INDICES/NDVI/{name}" in r.getMessage()]
    assert any('" 206 ' in line for line in lines), lines  # ranges were asked for and honoured


def test_cli_serves_and_prints_the_root_catalog_url(tree) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sen2val_stac", "serve", str(tree["catalog"]), "--data", str(tree["data"]), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        url = lines[1].split("Root catalog: ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/catalog/catalog.json")
        with urlopen(url, timeout=10) as r:
            assert json.loads(r.read())["type"] == "Catalog"
        with urlopen(urljoin(url, "../INDICES/NDVI/ndvi.tif"), timeout=10) as r:
            assert r.headers["Content-Type"] == "image/tiff"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    bad = subprocess.run([sys.executable, "-m", "sen2val_stac", "serve", str(tree["data"]), "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "catalog.json" in bad.stderr


# --- the demo catalogue: its relative asset hrefs resolve through the served data folder ---


@pytest.fixture(scope="module")
def demo_server(demo):
    catalog, _ = demo
    with running_server(make_app(catalog, [catalog.parent / "INDICES"])) as (base, _):
        yield base, catalog


def test_demo_item_and_assets(demo_server) -> None:
    base, _catalog = demo_server
    r = _raw(base, "/catalog/catalog.json")
    assert r.status == 200 and r.getheader("Content-Type") == "application/json"
    assert json.loads(r.body)["type"] == "Catalog"
    item_path = "/catalog/ndvi/40KCB/NDVI_40KCB_20220104.json"
    item = json.loads(_raw(base, item_path).body)
    for key, media in (("index", "image/jp2"), ("quicklook", "image/tiff"), ("thumbnail", "image/png")):
        head = _raw(base, urljoin(item_path, item["assets"][key]["href"]), "HEAD")
        assert head.status == 200 and head.getheader("Content-Type") == media, key
        assert int(head.getheader("Content-Length")) == item["assets"][key].get("file:size", int(head.getheader("Content-Length")))


def test_demo_asset_window_through_vsicurl(demo_server) -> None:
    base, catalog = demo_server
    item_url = f"{base}/catalog/ndvi/38KQE/NDVI_38KQE_20220106.json"
    item = json.loads(urlopen(item_url).read())
    href = item["assets"]["masked-cm001"]["href"]
    local = (catalog / "ndvi/38KQE" / href).resolve()
    window = Window(100, 200, 64, 48)
    with rasterio.Env(**GDAL_ENV), rasterio.open(f"/vsicurl/{urljoin(item_url, href)}") as remote:
        got = remote.read(1, window=window)
        assert remote.crs.to_epsg() == 32738
    with rasterio.open(local) as ds:
        want = ds.read(1, window=window)
    np.testing.assert_array_equal(got, want)


def test_absolute_published_catalogue_walked_over_http(demo, tmp_path) -> None:
    catalog, _ = demo
    published = tmp_path / "stac"
    with running_server([published.parent]) as (base, _):
        # the server roots must exist before the catalogue is written into them
        config = load_config(None)
        config["root_href"] = f"{base}/stac/"
        index_tree(str(catalog.parent / "INDICES"), str(published), config, workers=1, progress=False)
        root = pystac.Catalog.from_file(f"{base}/stac/catalog.json")
        items = list(root.get_items(recursive=True))
        assert len(items) == 30
        assert items[0].get_self_href().startswith(f"{base}/stac/")
        assert json.loads(urlopen(Request(f"{base}/stac/ndvi/collection.json")).read())["id"] == "ndvi"
