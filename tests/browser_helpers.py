"""Helpers for the STAC Browser end-to-end test: build it, serve it with a runtime config, start Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sen2val_stac.serve.static import StaticApp

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "scripts" / "build_stac_browser.sh"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Debian's Chromium, headless, with nothing that calls home (the machine may have no network at all).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def missing_tools() -> str | None:
    """Why the end-to-end test cannot run here, or None."""
    if CHROMIUM is None:
        return "Debian's chromium is not installed (scripts/install_system_deps.sh)"
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (needed to build STAC Browser; scripts/install_system_deps.sh)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "python playwright is not installed (pip install -e '.[test]')"
    return None


def build_stac_browser(out_dir: Path | None = None, timeout: float = 1500) -> Path:
    """Run scripts/build_stac_browser.sh (a no-op when already built); return the built ``dist/`` folder."""
    out = out_dir or REPO / ".stac-browser"
    done = subprocess.run(["bash", str(BUILD_SCRIPT), str(out)], capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"STAC Browser build failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return out / "dist"


def browser_app(dist: Path, runtime_config: dict[str, Any]) -> Callable[..., Any]:
    """WSGI app serving STAC Browser's ``dist/``, answering ``/config.js`` with ``runtime_config``.

    That is STAC Browser's runtime configuration (``window.STAC_BROWSER_CONFIG``), so one build serves any
    catalogue URL; the rest of ``dist/`` is served as static files.
    """
    files = StaticApp([dist])
    script = f"window.STAC_BROWSER_CONFIG = {json.dumps(runtime_config)};\n".encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/config.js":
            start_response("200 OK", [("Content-Type", "text/javascript"), ("Content-Length", str(len(script))),
                                      ("Cache-Control", "no-store")])
            return [script]
        return files(environ, start_response)

    return app


# --- what a map shows: pixels of a screenshot against the colours of a raster ----------------------------------

# Hides the map's canvas-2D layers (footprint outline, preview images) and counts the others: the WebGL canvases,
# where OpenLayers draws GeoTIFFs. A WebGL canvas answers null to getContext('2d'), a 2D one its context.
ONLY_WEBGL_LAYERS_JS = """() => { let webgl = 0;
  for (const c of document.querySelectorAll('.ol-viewport canvas')) {
    if (c.getContext('2d')) c.style.visibility = 'hidden'; else webgl++;
  }
  return webgl; }"""
ALL_LAYERS_JS = "() => document.querySelectorAll('.ol-viewport canvas').forEach(c => { c.style.visibility = ''; })"


def png_pixels(png: bytes) -> Any:
    """The RGB pixels of a PNG (a screenshot), as a ``(height, width, 3)`` uint8 array."""
    import warnings

    import numpy as np
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile(png) as memory, memory.open() as image:
            bands = image.read()
    return np.ascontiguousarray(np.moveaxis(bands[:3], 0, -1))


def raster_colours(path: Path) -> Any:
    """The distinct colours of the valid pixels of an RGB raster (nodata pixels, all bands 0, left out): ``(n, 3)``."""
    import numpy as np
    import rasterio

    with rasterio.open(path) as raster:
        bands = raster.read(indexes=[1, 2, 3])
    pixels = np.moveaxis(bands, 0, -1).reshape(-1, 3)
    return np.unique(pixels[pixels.any(axis=1)], axis=0)


def matching_pixels(pixels: Any, colours: Any, tolerance: int = 8) -> tuple[int, int]:
    """How many ``pixels`` are within ``tolerance`` (per channel) of one of ``colours``, and how many distinct ones."""
    import numpy as np

    seen, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    gap = np.abs(seen[:, None, :].astype(np.int16) - colours[None, :, :].astype(np.int16)).max(axis=2)
    near = gap.min(axis=1) <= tolerance
    return int(counts[near].sum()), int(near.sum())
