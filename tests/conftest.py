"""Shared fixtures: the offline STAC schema mirror and an indexed demo catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_server import pg_server  # noqa: F401 - session fixture: a throw-away PostgreSQL + PostGIS cluster

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO.parent / "shared" / "stac-schemas"


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    """The offline mirror of the STAC JSON schemas (``../shared/stac-schemas``)."""
    if not SCHEMAS.is_dir():
        pytest.skip(f"offline STAC schema mirror not found at {SCHEMAS}")
    return SCHEMAS


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """The demo tree indexed once per session: ``(catalog_dir, report)``. Treat it as read-only."""
    from sen2val_stac.demo.build import build_demo

    return build_demo(tmp_path_factory.mktemp("demo"), workers=2)
