"""Real clients of the embedded STAC API (``serve --api``): openEO local processing and STAC Browser's search page.

- openEO (``openeo`` + ``openeo-processes-dask``): ``LocalConnection.load_stac`` with a spatial and a temporal
  filter (it needs item search for that) on the cloud-masked NDVI asset, nodata masked in the process graph by the catalogue's rule (values
  within ``footprint.nodata_tolerance`` of nodata or outside the index's valid range), a temporal mean; equal
  to the numpy mean of the same pixels read from the JPEG2000 files with rasterio. The example of
  docs/stac-api.md.
- STAC Browser (built from npm, Debian's headless Chromium): its search page, pointed at the API, lists the
  items of ``POST /search`` and pages to the next ones.
"""

from __future__ import annotations

import warnings
from urllib.parse import urlsplit

import numpy as np
import pytest
import rasterio
import requests
from api_backends import SCHEMAS, copy_demo, offline_schemas, start_embedded
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, browser_app, build_stac_browser, missing_tools

from sen2val_stac.config import load_config
from sen2val_stac.core.templates import index_definition
from sen2val_stac.serve.static import running_server

EXTENT = {"west": 55.3, "south": -21.4, "east": 55.8, "north": -21.05}  # inside tile 40KCB
DATES = ["2022-03-01", "2022-09-30"]
ASSET = "masked-cm001"  # cloud-masked NDVI: clouds are nodata, smeared by the lossy JPEG2000 coding


@pytest.fixture(scope="module")
def api(demo, tmp_path_factory: pytest.TempPathFactory):
    catalog, indices = copy_demo(demo, tmp_path_factory.mktemp("api-clients"))
    with start_embedded(catalog, indices) as server:
        yield server


# --- openEO ---------------------------------------------------------------------------------------


def _masked(values: np.ndarray, nodata: int, tolerance: int, valid_range: list[int] | None) -> np.ndarray:
    bad = np.abs(values.astype(np.int64) - nodata) <= tolerance
    if valid_range:
        bad |= (values < valid_range[0]) | (values > valid_range[1])
    return np.where(bad, np.nan, values.astype(np.float64))


def test_openeo_load_stac_temporal_mean(api) -> None:
    pytest.importorskip("openeo_processes_dask", reason="openeo-processes-dask is not installed")
    if not SCHEMAS.is_dir():
        pytest.skip(f"offline STAC schema mirror not found at {SCHEMAS} (openEO validates with stac-validator)")
    from openeo.local import LocalConnection

    tolerance = int(load_config(None)["footprint"]["nodata_tolerance"])
    valid_range = index_definition("NDVI").get("valid_range")
    with offline_schemas():
        items = requests.get(api.url + "search", params={
            "collections": "ndvi", "bbox": ",".join(str(EXTENT[k]) for k in ("west", "south", "east", "north")),
            "datetime": f"{DATES[0]}T00:00:00Z/{DATES[1]}T23:59:59Z", "limit": 100}, timeout=60).json()["features"]
        assert len(items) == 3, [i["id"] for i in items]
        nodata = int(items[0]["assets"][ASSET]["raster:bands"][0]["nodata"])

        # the docs/stac-api.md example
        conn = LocalConnection(str(api.catalog.parent))
        cube = conn.load_stac(api.url + "collections/ndvi", spatial_extent=EXTENT, temporal_extent=DATES,
                              bands=[ASSET])
        invalid = cube >= nodata - tolerance
        if valid_range:
            invalid = invalid | (cube < valid_range[0]) | (cube > valid_range[1])
        mean = cube.mask(invalid).reduce_dimension(dimension="time", reducer="mean")
        result = mean.execute().sel(bands=ASSET).compute()

    xs, ys = np.meshgrid(result["x"].values, result["y"].values)
    stack, smeared = [], 0
    for item in items:
        with rasterio.open(item["assets"][ASSET]["href"]) as ds:  # the same file, over HTTP from the API server
            assert ds.crs.to_epsg() == int(result["spatial_ref"])
            rows, cols = rasterio.transform.rowcol(ds.transform, xs.ravel(), ys.ravel())
            band = ds.read(1)
        smeared += int(((band >= nodata - tolerance) & (band < nodata)).sum())
        stack.append(_masked(band[np.asarray(rows), np.asarray(cols)].reshape(xs.shape), nodata, tolerance, valid_range))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice" where every date is nodata
        expected = np.nanmean(np.stack(stack), axis=0)
    got = result.values
    assert got.shape == expected.shape and np.isfinite(expected).sum() > 1000
    assert smeared and np.isnan(np.stack(stack)).any(), "smeared nodata in the rasters: the mask is exercised"
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


# --- STAC Browser ---------------------------------------------------------------------------------

BROWSER = missing_tools()


@pytest.mark.browser
@pytest.mark.skipif(BROWSER is not None, reason=BROWSER or "")
@pytest.mark.timeout(1800)
def test_stac_browser_search_page_lists_api_items(api, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    dist = build_stac_browser()
    first = requests.post(api.url + "search", json={"limit": 6}, timeout=60).json()
    second_ids = [f["id"] for f in requests.post(api.url + "search", json={"limit": 6, "token": "6"}, timeout=60).json()["features"]]
    first_ids = [f["id"] for f in first["features"]]
    with running_server(browser_app(dist, {"catalogUrl": api.url, "basemaps": []})) as (ui_url, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        urls, bad, errors = [], [], []
        page.on("request", lambda r: urls.append(r.url))
        page.on("response", lambda r: r.status >= 400 and bad.append(f"{r.url}: HTTP {r.status}"))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{ui_url}/index.html#/search")
        page.get_by_placeholder("Default").last.fill("6")  # items per page
        page.get_by_role("button", name="Submit").click()
        for item_id in first_ids:
            page.get_by_role("link", name=item_id).first.wait_for(timeout=60_000)
        page.locator(".badge", has_text=str(first["numberMatched"])).first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "stac-browser-search.png"))
        page.get_by_role("button", name="Next").first.click()
        for item_id in second_ids:
            page.get_by_role("link", name=item_id).first.wait_for(timeout=60_000)
        browser.close()
    assert {urlsplit(u).hostname for u in urls if u.startswith("http")} == {"127.0.0.1"}
    assert any(u.startswith(api.url + "search") for u in urls)
    assert not [b for b in bad if not b.endswith("favicon.ico: HTTP 404")], bad
    assert not errors, errors
    assert not set(first_ids) & set(second_ids)
