"""End to end: STAC Browser 4 (built from npm) in Debian's headless Chromium reads the demo catalogue.

Two local servers, as in a real deployment: one serves the catalogue and its rasters (``sen2val_stac.serve.static``),
the other STAC Browser's ``dist/`` with a runtime ``config.js`` (catalogUrl, no basemap). The browser fetches
the catalogue cross-origin, so CORS is exercised; every request must stay on 127.0.0.1.

Screenshots go to the test's temporary folder; in CI (``CI`` set, a fresh clone) or with
``SEN2VAL_UPDATE_SCREENSHOTS=1`` they are also stored under ``docs/img/`` (stac-browser-catalog.png, stac-browser-collection.png, stac-browser-item.png).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    browser_app,
    build_stac_browser,
    missing_tools,
)

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
        page.on("request", lambda r: self.urls.append(r.url))
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
