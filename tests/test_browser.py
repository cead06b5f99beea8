"""End to end: STAC Browser 4 (built from npm) in Debian's headless Chromium reads the demo catalogue.

Two local servers, as in a real deployment: one serves the catalogue and its rasters (``sen2val_stac.serve.static``),
the other STAC Browser's ``dist/`` with a runtime ``config.js`` (catalogUrl, no basemap). The browser fetches
the catalogue cross-origin, so CORS is exercised; every request must stay on 127.0.0.1.

The item map draws the item's web-optimised COG (asset ``visual``, written by ``sen2val-stac cog``) client-side:
checked in a screenshot of the map's raster (WebGL) layer against the colours of the item's quicklook, with the PNG
thumbnail drawn instead when an item has no COG.

Screenshots go to the test's temporary folder; in CI (``CI`` set, a fresh clone) or with
``SEN2VAL_UPDATE_SCREENSHOTS=1`` they are also stored under ``docs/img/`` (stac-browser-catalog.png,
stac-browser-collection.png, stac-browser-item.png, stac-browser-item-cog.png).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from browser_helpers import (
    ALL_LAYERS_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ONLY_WEBGL_LAYERS_JS,
    REPO,
    browser_app,
    build_stac_browser,
    matching_pixels,
    missing_tools,
    png_pixels,
    raster_colours,
)

from sen2val_stac.config import load_config
from sen2val_stac.derive.cog import VISUAL_KEY, cog_file, write_cogs
from sen2val_stac.serve.static import make_app, running_server

REASON = missing_tools()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(REASON is not None, reason=REASON or ""),
              pytest.mark.timeout(1800)]

ITEM_ID = "NDVI_40KCB_20220104"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def dist() -> Path:
    """STAC Browser's dist/, built once and cached in .stac-browser/ (a few minutes the first time)."""
    return build_stac_browser()


@pytest.fixture(scope="module")
def catalogue(demo):
    """The demo catalogue served with its INDICES tree: ``(catalog_dir, root catalog URL)``."""
    catalog, _ = demo
    with running_server(make_app(catalog, [catalog.parent / "INDICES"])) as (base, app):
        yield catalog, base + app.index_path


@pytest.fixture(scope="module")
def cog_catalogue(demo, tmp_path_factory):
    """A copy of the demo with the ``cog`` step run (a ``visual`` COG per item), served: ``(catalog_dir, URL)``."""
    top = tmp_path_factory.mktemp("browser-cog")
    for name in ("INDICES", "catalog"):
        shutil.copytree(demo[0].parent / name, top / name)
    report = write_cogs(top / "catalog", load_config(None))
    assert report.written and not report.errors, report
    with running_server(make_app(top / "catalog", [top / "INDICES"])) as (base, app):
        yield top / "catalog", base + app.index_path


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watch:
    """Everything a page asked for and what went wrong."""

    def __init__(self, page) -> None:
        self.urls: list[str] = []
        self.bad: list[str] = []
        self.errors: list[str] = []
        self.responses: list[Any] = []
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("response", lambda r: self.responses.append(r))
        page.on("requestfailed", lambda r: self.bad.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.bad.append(f"{r.url}: HTTP {r.status}"))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def hosts(self) -> set[str]:
        return {urlsplit(u).netloc.rsplit(":", 1)[0] for u in self.urls if u.startswith(("http:", "https:"))}


def _screenshot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path))
    if os.environ.get("SEN2VAL_UPDATE_SCREENSHOTS") == "1" or os.environ.get("CI"):
        (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, REPO / "docs" / "img" / name)


def _title(path: Path) -> str:
    return json.loads(path.read_text())["title"]


def test_catalogue_collection_and_item_pages(dist, catalogue, chromium, tmp_path) -> None:
    catalog, catalog_url = catalogue
    root = json.loads((catalog / "catalog.json").read_text())
    children = [catalog / link["href"] for link in root["links"] if link["rel"] == "child"]
    assert children
    ndvi = catalog / "ndvi" / "collection.json"
    item_path = catalog / "ndvi" / "40KCB" / f"{ITEM_ID}.json"
    item = json.loads(item_path.read_text())
    item_url = urljoin(catalog_url, item_path.relative_to(catalog).as_posix())
    thumbnail_url = urljoin(item_url, item["assets"]["thumbnail"]["href"])

    with running_server(browser_app(dist, {"catalogUrl": catalog_url, "basemaps": []})) as (ui_url, _):
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        watch = Watch(page)
        catalogue_responses = []
        page.on("response", lambda r: r.url.startswith(catalog_url.rsplit("/", 2)[0]) and catalogue_responses.append(r))

        # root catalogue: its title and one card per collection
        page.goto(f"{ui_url}/index.html#/")
        page.locator("h1", has_text=root["title"]).wait_for(timeout=TIMEOUT_MS)
        for child in children:
            page.get_by_role("link", name=_title(child)).first.wait_for(timeout=TIMEOUT_MS)
        _screenshot(page, tmp_path, "stac-browser-catalog.png")

        # collection page, reached by clicking its card: description, extent map, item cards with thumbnails
        page.get_by_role("link", name=_title(ndvi)).first.click()
        page.locator("h1", has_text=_title(ndvi)).wait_for(timeout=TIMEOUT_MS)
        assert page.url.endswith("#/ndvi/collection.json")
        page.locator(".ol-viewport").first.wait_for(timeout=TIMEOUT_MS)
        page.get_by_role("link", name=ITEM_ID).first.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_function(
            "() => [...document.querySelectorAll('img.thumbnail')].filter(i => i.src.startsWith('http') && i.complete"
            " && i.naturalWidth > 0).length >= 2", timeout=TIMEOUT_MS)
        _screenshot(page, tmp_path, "stac-browser-collection.png")

        # item page, reached by clicking its card: map with the footprint drawn, assets, thumbnail
        page.get_by_role("link", name=ITEM_ID).first.click()
        page.locator("h1", has_text=ITEM_ID).wait_for(timeout=TIMEOUT_MS)
        assert page.url.endswith(f"#/ndvi/40KCB/{ITEM_ID}.json")
        page.locator(".ol-viewport canvas").first.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_function(  # the footprint is drawn: some canvas of the map has opaque pixels
            """() => [...document.querySelectorAll('.ol-viewport canvas')].some(c => {
                 if (!c.width || !c.height) return false;
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
                 return false; })""", timeout=TIMEOUT_MS)
        for key in ("index", "quicklook"):
            assert page.get_by_text(item["assets"][key]["title"], exact=True).first.is_visible(), key
        _screenshot(page, tmp_path, "stac-browser-item.png")
        page.get_by_text("Thumbnails", exact=True).first.click()
        thumb = page.locator(f"img[src='{thumbnail_url}']").first
        thumb.wait_for(state="visible", timeout=TIMEOUT_MS)
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(),
                               timeout=TIMEOUT_MS)
        page.close()

    assert watch.hosts() == {"127.0.0.1"}, watch.hosts()  # nothing from the internet (no basemap tiles)
    assert not [b for b in watch.bad if not b.endswith("/favicon.ico: HTTP 404")], watch.bad
    assert not watch.errors, watch.errors
    # the catalogue came cross-origin: its answers carry the CORS header
    assert catalogue_responses and all(r.headers.get("access-control-allow-origin") == "*" for r in catalogue_responses)
    assert any(r.url == thumbnail_url for r in catalogue_responses)


def test_external_route_without_a_configured_catalogue(dist, catalogue, chromium) -> None:
    """The same build opens any catalogue as index.html#/external/http:/HOST:PORT/PATH (no catalogUrl).

    STAC Browser's external route: ``external/HOST/PATH`` means https, a first part ``http:`` plain HTTP.
    """
    catalog, catalog_url = catalogue
    title = json.loads((catalog / "catalog.json").read_text())["title"]
    with running_server(browser_app(dist, {"basemaps": []})) as (ui_url, _):
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        watch = Watch(page)
        page.goto(f"{ui_url}/index.html#/external/http:/{catalog_url.split('://', 1)[1]}")
        page.locator("h1", has_text=title).wait_for(timeout=TIMEOUT_MS)
        page.close()
    assert not watch.errors, watch.errors


# "The quicklook is on the map": a tenth of the map's pixels in its colours (the item covers about a third of it),
# and a good part of its colour ramp (the footprint outline is one colour, none of the quicklook's).
MIN_SHARE = 0.1
MIN_COLOURS = 20


def _open_item_map(chromium, ui_url: str):
    """A new page on the item's page, once its map has a canvas; ``(page, Watch)``."""
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch(page)
    page.goto(f"{ui_url}/index.html#/ndvi/40KCB/{ITEM_ID}.json")
    page.locator("h1", has_text=ITEM_ID).wait_for(timeout=TIMEOUT_MS)
    page.locator(".ol-viewport canvas").first.wait_for(timeout=TIMEOUT_MS)
    return page, watch


def _quicklook_colours(item_path: Path) -> Any:
    """The colours of the item's quicklook (the source of its COG and of its thumbnail), nodata left out."""
    item = json.loads(item_path.read_text())
    return raster_colours((item_path.parent / item["assets"]["quicklook"]["href"]).resolve())


def _quicklook_shown(pixels: Any, colours: Any) -> tuple[bool, str]:
    """Whether a screenshot shows the quicklook (see MIN_SHARE), and the figures."""
    matched, distinct = matching_pixels(pixels, colours)
    total = pixels.shape[0] * pixels.shape[1]
    return (matched >= MIN_SHARE * total and distinct >= MIN_COLOURS,
            f"{matched} of {total} pixels and {distinct} colours of the quicklook")


def _map_pixels(page, raster_layers_only: bool = False) -> tuple[int, Any]:
    """Screenshot of the map, or of its WebGL (GeoTIFF) layers alone: ``(number of WebGL layers, RGB pixels)``."""
    webgl = page.evaluate(ONLY_WEBGL_LAYERS_JS)
    if not raster_layers_only:
        page.evaluate(ALL_LAYERS_JS)
    try:
        return webgl, png_pixels(page.locator(".ol-viewport").first.screenshot())
    finally:
        page.evaluate(ALL_LAYERS_JS)


def _wait_for_quicklook(page, colours: Any, raster_layers_only: bool) -> tuple[int, bool, str]:
    """Screenshots of the map until it shows the quicklook or TIMEOUT_MS passed: ``(WebGL layers, shown, figures)``.

    The map draws asynchronously (the COG tile by tile); a failed wait is left to the caller's assertions.
    """
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        webgl, pixels = _map_pixels(page, raster_layers_only)
        shown, figures = _quicklook_shown(pixels, colours)
        if (shown and (webgl or not raster_layers_only)) or time.monotonic() > deadline:
            return webgl, shown, figures
        page.wait_for_timeout(500)


def test_item_map_draws_the_visual_cog(dist, cog_catalogue, chromium, tmp_path) -> None:
    """The item map reads the ``visual`` COG with byte ranges and draws it: its raster layer shows the quicklook."""
    catalog, catalog_url = cog_catalogue
    item_path = catalog / "ndvi" / "40KCB" / f"{ITEM_ID}.json"
    item = json.loads(item_path.read_text())
    cog_url = urljoin(urljoin(catalog_url, item_path.relative_to(catalog).as_posix()), cog_file(ITEM_ID, VISUAL_KEY))
    title = item["assets"].get(VISUAL_KEY, {}).get("title")
    colours = _quicklook_colours(item_path)
    assert len(colours) > 2 * MIN_COLOURS  # a colour ramp: plenty to tell a raster from an outline

    with running_server(browser_app(dist, {"catalogUrl": catalog_url, "basemaps": []})) as (ui_url, _):
        page, watch = _open_item_map(chromium, ui_url)
        # only the WebGL layers shown: the PNG thumbnail (a canvas-2D layer) cannot pass for the COG
        webgl, shown, figures = _wait_for_quicklook(page, colours, raster_layers_only=True)
        _screenshot(page, tmp_path, "stac-browser-item-cog.png")
        listed = title is not None and page.get_by_text(title, exact=True).first.is_visible()  # in the asset list
        page.close()

    assert webgl >= 1 and shown, f"{webgl} raster layer(s) on the map, {figures}"
    assert listed
    # geotiff.js read the COG cross-origin with HTTP byte ranges
    cog_responses = [r for r in watch.responses if r.url == cog_url]
    assert cog_responses and all(r.status == 206 and r.headers.get("content-range", "").startswith("bytes ")
                                 and r.headers.get("access-control-allow-origin") == "*" for r in cog_responses)
    assert "content-range" in cog_responses[0].headers.get("access-control-expose-headers", "").lower()
    assert watch.hosts() == {"127.0.0.1"}, watch.hosts()
    assert not [b for b in watch.bad if not b.endswith("/favicon.ico: HTTP 404")], watch.bad
    assert not watch.errors, watch.errors


def test_item_map_without_a_cog_draws_the_thumbnail(dist, catalogue, chromium) -> None:
    """The same page on an item without COG (``cog`` not run): no raster layer, the PNG thumbnail drawn instead.

    Also the control of the test above: its measure finds nothing on this map, which shows the same colours.
    """
    catalog, catalog_url = catalogue
    item_path = catalog / "ndvi" / "40KCB" / f"{ITEM_ID}.json"
    assert VISUAL_KEY not in json.loads(item_path.read_text())["assets"]
    colours = _quicklook_colours(item_path)  # also the thumbnail's, outside its clouds
    with running_server(browser_app(dist, {"catalogUrl": catalog_url, "basemaps": []})) as (ui_url, _):
        page, watch = _open_item_map(chromium, ui_url)
        _, shown, figures = _wait_for_quicklook(page, colours, raster_layers_only=False)  # the layers are complete then
        webgl, raster_pixels = _map_pixels(page, raster_layers_only=True)
        page.close()
    assert shown, figures
    assert webgl == 0
    assert matching_pixels(raster_pixels, colours) == (0, 0)
    assert not [u for u in watch.urls if u.endswith(".tif")], watch.urls
    assert not watch.errors, watch.errors
