"""The HTTP server: media types, CORS, byte ranges, refusal of path escapes, GDAL /vsicurl/ reads."""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urljoin
from urllib.request import Request, urlopen

import numpy as np
import pystac
import pytest
import rasterio

from sen2val_stac.config import load_config
from sen2val_stac.indexer import index_tree
from sen2val_stac.serve import running_server


@pytest.fixture(scope="module")
def server(demo):
    catalog, _ = demo
    indices = catalog.parent / "INDICES"
    link = catalog / "ndvi" / "escape"
    if not link.exists():
        os.symlink("/etc", link)
    with running_server([catalog, indices]) as (base, app):
        yield base, catalog, indices
    link.unlink()


def _raw(base: str, path: str, method: str = "GET", headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(base.split("//")[1], timeout=10)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def test_media_types_and_cors(server) -> None:
    base, catalog, _ = server
    r = _raw(base, "/catalog/catalog.json")
    assert r.status == 200 and r.getheader("Content-Type") == "application/json"
    assert r.getheader("Access-Control-Allow-Origin") == "*"
    assert "Content-Range" in r.getheader("Access-Control-Expose-Headers")
    assert json.loads(r.body)["type"] == "Catalog"
    thumb = _raw(base, "/catalog/ndvi/40KCB/NDVI_40KCB_20220104.png")
    assert thumb.getheader("Content-Type") == "image/png" and thumb.body[:4] == b"\x89PNG"
    item = json.loads(_raw(base, "/catalog/ndvi/40KCB/NDVI_40KCB_20220104.json").body)
    jp2 = urljoin("/catalog/ndvi/40KCB/NDVI_40KCB_20220104.json", item["assets"]["index"]["href"])
    head = _raw(base, jp2, "HEAD")
    assert head.status == 200 and head.getheader("Content-Type") == "image/jp2" and head.getheader("ETag")
    ql = urljoin("/catalog/ndvi/40KCB/NDVI_40KCB_20220104.json", item["assets"]["quicklook"]["href"])
    assert _raw(base, ql, "HEAD").getheader("Content-Type") == "image/tiff"
    pre = _raw(base, "/catalog/catalog.json", "OPTIONS",
               {"Origin": "http://browser.example", "Access-Control-Request-Method": "GET"})
    assert pre.status == 204 and "GET" in pre.getheader("Access-Control-Allow-Methods")
    assert _raw(base, "/catalog/catalog.json", "POST").status == 405


def test_byte_ranges(server) -> None:
    base, catalog, indices = server
    path = next(indices.rglob("*_NDVI.jp2"))
    url = "/INDICES/" + path.relative_to(indices).as_posix()
    size = path.stat().st_size
    r = _raw(base, url, headers={"Range": "bytes=100-199"})
    assert r.status == 206 and r.getheader("Content-Range") == f"bytes 100-199/{size}"
    assert r.body == path.read_bytes()[100:200]
    assert _raw(base, url, headers={"Range": f"bytes={size + 10}-{size + 20}"}).status == 416


@pytest.mark.parametrize("path", [
    "/catalog/../../../etc/passwd",
    "/catalog/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/catalog/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/etc/passwd",
    "//etc/passwd",
    "/catalog/..\\..\\etc\\passwd",
    "/catalog/%5c..%5c..%5cetc%5cpasswd",
    "/catalog/catalog.json%00.png",
    "/catalog/ndvi/escape/passwd",
    "/catalog/.sen2val/state.json",
    "/catalog/.sen2val/lock",
])
def test_escapes_refused(server, path) -> None:
    base, _, _ = server
    r = _raw(base, path)
    assert r.status in (403, 404), (path, r.status)
    assert b"root:" not in r.body


def test_gdal_reads_window_through_vsicurl(server) -> None:
    base, catalog, _ = server
    item_url = f"{base}/catalog/ndvi/38KQE/NDVI_38KQE_20220106.json"
    item = json.loads(urlopen(item_url).read())
    url = urljoin(item_url, item["assets"]["masked-cm001"]["href"])
    local = (catalog / "ndvi/38KQE" / item["assets"]["masked-cm001"]["href"]).resolve()
    window = rasterio.windows.Window(100, 200, 64, 48)
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".jp2"):
        with rasterio.open(f"/vsicurl/{url}") as remote:
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
