"""Downstream readers on the demo catalogue: pystac, odc-stac, stackstac, GDAL /vsicurl/, geopandas, and an
absolute published catalogue walked over HTTP. Each example is in docs/downstream.md; the sections "COG views in
QGIS" and "Cubes over OPeNDAP / ERDDAP" are run from the page itself (their commands and code, as written)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
from processes import stop
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
    assert _http(f"{nginx}/stac/.sen2val/state.sqlite")[0] == 403


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


# --- docs/downstream.md sections run as written ------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "downstream.md"
DOC_HOST = "127.0.0.1:8000"
DOC_CUBE = "NDVI_40KCB_masked-cm001_20220104_20221110"


def _doc_blocks(heading: str) -> list[tuple[str, str]]:
    """The fenced ``(language, code)`` blocks of the section ``## heading`` of docs/downstream.md."""
    text = DOC.read_text(encoding="utf-8")
    assert f"\n## {heading}\n" in text, f"docs/downstream.md has no section {heading!r}"
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


class DocSession:
    """Runs a section's shell lines and Python blocks in ``root`` (standing for ``sen2val-demo/``).

    ``sen2val-stac serve ...`` starts the real command in a subprocess on a free port (``--port 0`` appended) and
    every ``http://127.0.0.1:8000`` of the lines that follow points at it; other ``sen2val-stac``
    lines run through ``cli.main``; anything else (gdalinfo, rio, curl) runs as a program, with ``root`` as its
    working directory. Outputs by line, Python variables in ``namespace``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host: str | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.outputs: dict[str, str] = {}
        self.namespace: dict[str, object] = {}

    def _sub(self, text: str) -> str:
        text = text.replace("sen2val-demo/", f"{self.root}/")
        return text.replace(DOC_HOST, self.host) if self.host else text

    def _serve(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sen2val_stac.cli", *argv, "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # the server prints its root catalogue URL once it listens
            if line.startswith("Root catalog: "):
                self.host = line.split("://", 1)[1].split("/", 1)[0]
                return
        pytest.fail(f"`sen2val-stac {shlex.join(argv)}` exited before listening")

    def shell(self, line: str) -> None:
        argv = shlex.split(self._sub(line), comments=True)
        if argv[:2] == ["sen2val-stac", "serve"]:
            self._serve(argv[1:])
        elif argv[0] == "sen2val-stac":
            assert main(argv[1:]) == 0, line
        else:
            done = subprocess.run(argv, cwd=self.root, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{line}\n{done.stderr}"
            self.outputs[line] = done.stdout

    def run(self, blocks: list[tuple[str, str]]) -> None:
        """Every line of the bash blocks and every Python block, in the page's order."""
        for language, code in blocks:
            if language == "bash":
                for line in code.splitlines():
                    if line.strip() and not line.lstrip().startswith("#"):
                        self.shell(line)
            elif language == "python":
                exec(compile(self._sub(code), str(DOC), "exec"), self.namespace)

    def output(self, program: str, *words: str) -> str:
        """The output of the one line that starts with ``program`` and holds every one of ``words``."""
        found = [out for line, out in self.outputs.items() if line.startswith(program) and all(w in line for w in words)]
        assert len(found) == 1, (program, words, list(self.outputs))
        return found[0]

    def close(self) -> None:
        if self.proc is not None:
            stop(self.proc)


def _require_programs(blocks: list[tuple[str, str]]) -> None:
    """Skip (with the reason) when a program a documented line runs is not installed."""
    for language, code in blocks:
        for line in code.splitlines() if language == "bash" else []:
            argv = shlex.split(line, comments=True)
            if argv and argv[0] != "sen2val-stac" and shutil.which(argv[0]) is None:
                pytest.skip(f"{argv[0]} not installed: the documented line `{line.split('  #')[0]}` is not run")


@pytest.fixture
def doc_session(demo, tmp_path):
    """A copy of the demo laid out as ``sen2val-demo/`` (INDICES beside catalog) and a session on it."""
    root = tmp_path / "sen2val-demo"
    for name in ("INDICES", "catalog"):
        shutil.copytree(demo[0].parent / name, root / name)
    session = DocSession(root)
    try:
        yield session
    finally:
        session.close()


def test_documented_cog_views_open_over_http(doc_session) -> None:
    """docs/downstream.md "COG views in QGIS": `cog --indices`, `serve`, gdalinfo and rio-cogeo over /vsicurl/."""
    blocks = _doc_blocks("COG views in QGIS")
    _require_programs(blocks)
    doc_session.run(blocks)
    info = doc_session.output("gdalinfo", "/vsicurl/")
    assert "LAYOUT=COG" in info and "Overviews: 305x305" in info and "Block=512x512 Type=Int16" in info
    assert "is a valid cloud optimized GeoTIFF" in doc_session.output("rio cogeo validate")
    ns = doc_session.namespace
    assert ns["valid"] is True and ns["errors"] == []
    item = json.loads((doc_session.root / "catalog/ndvi/40KCB/NDVI_40KCB_20220104.json").read_text())
    asset = item["assets"]["masked-cm001-cog"]  # the documented URL is the catalogued COG asset
    assert ns["url"] == f"http://{doc_session.host}/catalog/ndvi/40KCB/{asset['href'].removeprefix('./')}"
    local = doc_session.root / "catalog/ndvi/40KCB" / asset["href"]
    with rasterio.Env(**GDAL_HTTP), rasterio.open(f"/vsicurl/{ns['url']}") as remote, rasterio.open(local) as here:
        assert remote.overviews(1) == here.overviews(1) == [2]
        np.testing.assert_array_equal(remote.read(1, out_shape=(305, 305)), here.read(1, out_shape=(305, 305)))


def test_documented_cube_access_over_opendap_and_erddap(doc_session) -> None:
    """docs/downstream.md "Cubes over OPeNDAP / ERDDAP": `netcdf`, `serve --cubes`, curl subsets, xarray, netCDF4."""
    pytest.importorskip("xpublish_erddap", reason="xpublish-erddap not installed")
    pytest.importorskip("pydap", reason="pydap not installed")
    import netCDF4
    import xarray as xr

    blocks = _doc_blocks("Cubes over OPeNDAP / ERDDAP")
    _require_programs(blocks)
    doc_session.run(blocks)
    cube = doc_session.root / "netcdf" / f"{DOC_CUBE}.nc"
    with netCDF4.Dataset(cube) as here:
        here.set_auto_maskandscale(False)
        packed, ys, xs = here["ndvi"][:], here["y"][:], here["x"][:]
    assert DOC_CUBE.replace("-", "_") in doc_session.output("curl", "index.csv")
    with netCDF4.Dataset(doc_session.root / "subset.nc") as nc:  # curl -o subset.nc: indices, stop included
        nc.set_auto_maskandscale(False)
        np.testing.assert_array_equal(nc["ndvi"][:], packed[1:2, 100:200, 300:420])
    rows = list(csv.reader(io.StringIO(doc_session.output("curl", ".csv?"))))
    assert rows[0] == ["time", "y", "x", "ndvi"] and len(rows) > 6
    for when, y, x, value in rows[2:]:  # coordinate subset: each value is the cube's at that time, y and x
        assert when == "2022-01-04T06:36:11Z"
        assert int(value) == packed[0, np.flatnonzero(ys == float(y))[0], np.flatnonzero(xs == float(x))[0]]
    ns = doc_session.namespace
    with xr.open_dataset(cube) as decoded:  # CF decoding of the local file
        expected = decoded["ndvi"][1, 100:200, 300:420].values
    np.testing.assert_allclose(ns["ndvi"], expected, rtol=1e-6)
    assert ns["ndvi"].dtype.kind == "f" and np.nanmax(np.abs(ns["ndvi"])) <= 1  # decoded on the client
    with netCDF4.Dataset(cube) as here:
        local = here["ndvi"][1, 100:200, 300:420]
    np.testing.assert_array_equal(np.ma.getmaskarray(ns["subset"]), np.ma.getmaskarray(local))
    np.testing.assert_allclose(ns["subset"].compressed(), local.compressed(), rtol=1e-6)
    assert ns["crs"] == "EPSG:32740"
