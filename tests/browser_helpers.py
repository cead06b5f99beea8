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
