"""End to end: STAC Browser (built from npm) in Debian's Chromium reads the served catalogue."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sen2val_stac.serve import running_server

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/install_system_deps.sh)"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed (needed to build STAC Browser)"),
]


@pytest.fixture(scope="module")
def stac_browser() -> Path:
    """STAC Browser's built dist/ (built once, cached in .stac-browser/)."""
    subprocess.run(["bash", str(REPO / "scripts/build_stac_browser.sh")], check=True, timeout=1500,
                   stdout=subprocess.DEVNULL)
    return REPO / ".stac-browser" / "dist"


def test_root_collection_and_item_pages_render(demo, stac_browser) -> None:
    from playwright.sync_api import sync_playwright

    catalog, _ = demo
    shots = REPO / "docs" / "img"
    shots.mkdir(parents=True, exist_ok=True)
    with running_server([catalog, catalog.parent / "INDICES"]) as (data_url, _), \
            running_server([stac_browser]) as (ui_url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        external = f"{ui_url}/index.html#/external/http:/{data_url.split('//')[1]}/catalog"

        page.goto(f"{external}/catalog.json")
        page.get_by_text("Normalized Difference Vegetation Index (NDVI)").first.wait_for(timeout=60_000)
        assert page.get_by_text("Sen2Chain radiometric indices").first.is_visible()
        page.screenshot(path=str(shots / "stac-browser-catalog.png"))

        page.goto(f"{external}/ndvi/collection.json")
        page.get_by_text("NDVI_40KCB_20220104").first.wait_for(timeout=60_000)
        assert page.locator(".ol-viewport").count() >= 1

        page.goto(f"{external}/ndvi/40KCB/NDVI_40KCB_20220104.json")
        page.get_by_text("NDVI_40KCB_20220104").first.wait_for(timeout=60_000)
        page.locator(".ol-viewport").first.wait_for(timeout=60_000)
        page.locator("img[src$='NDVI_40KCB_20220104.png']").first.wait_for(state="attached", timeout=60_000)
        page.wait_for_function(
            "() => [...document.images].some(i => i.src.endsWith('NDVI_40KCB_20220104.png') && i.naturalWidth > 0)",
            timeout=60_000)
        assert page.locator(".ol-viewport canvas").count() >= 1
        page.wait_for_timeout(1500)  # let the map draw the footprint
        page.screenshot(path=str(shots / "stac-browser-item.png"), full_page=False)
        browser.close()
    assert not [e for e in errors if "NetworkError" not in e and "Failed to fetch" not in e], errors
