"""Schema validation: offline mirror, download cache, and the errors it must catch."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from sen2val_stac.cli import main
from sen2val_stac.validation import SchemaStore, validate_catalog


@pytest.fixture()
def catalogue(demo, tmp_path) -> Path:
    """A private copy of the demo catalogue, links intact (items only; assets are not followed)."""
    dest = tmp_path / "catalog"
    shutil.copytree(demo[0], dest)
    return dest


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_valid_catalogue(catalogue, schemas_dir, capsys) -> None:
    result = validate_catalog(catalogue, SchemaStore(mirror=schemas_dir))
    assert result.ok and len(result.files) == 34
    assert main(["validate", str(catalogue), "--schemas", str(schemas_dir)]) == 0
    assert "34 of 34 files valid" in capsys.readouterr().out


def test_errors_are_caught_and_name_the_file(catalogue, schemas_dir, capsys) -> None:
    item = catalogue / "ndvi/40KCB/NDVI_40KCB_20220104.json"
    _edit(item, lambda d: d["properties"].update({"proj:epsg": 32740}))
    item2 = catalogue / "ndvi/40KCB/NDVI_40KCB_20220305.json"
    _edit(item2, lambda d: d["properties"].pop("datetime"))
    item3 = catalogue / "mndwi/40KCB/MNDWI_40KCB_20220104.json"
    _edit(item3, lambda d: d["assets"]["index"].update({"file:size": "big"}))
    (catalogue / "mndwi/38KQE/MNDWI_38KQE_20220106.json").write_text("{ not json")
    item5 = catalogue / "ndwigao/38KQE/NDWIGAO_38KQE_20220106.json"
    _edit(item5, lambda d: d["stac_extensions"].append("https://stac-extensions.github.io/nope/v9.9.9/schema.json"))
    result = validate_catalog(catalogue, SchemaStore(mirror=schemas_dir))
    bad = {Path(e.path).name: e for e in result.errors}
    assert set(bad) == {item.name, item2.name, item3.name, "MNDWI_38KQE_20220106.json", item5.name}
    assert "projection/v2.0.0" in next(e.schema for e in result.errors if Path(e.path) == item)
    assert "datetime" in bad[item2.name].message
    assert "not readable JSON" in bad["MNDWI_38KQE_20220106.json"].message
    assert "nope/v9.9.9" in bad[item5.name].message
    assert main(["validate", str(catalogue), "--schemas", str(schemas_dir)]) == 1
    assert "29 of 34 files valid, 5 invalid" in capsys.readouterr().out


def test_missing_catalogue_exit_2(tmp_path, schemas_dir) -> None:
    assert main(["validate", str(tmp_path), "--schemas", str(schemas_dir)]) == 2


def test_download_cache_fetches_once(catalogue, schemas_dir, tmp_path) -> None:
    """No mirror: schemas are fetched over HTTP (here a loopback server holding a copy) into the cache."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(schemas_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    import urllib.request

    def fetch(url: str) -> bytes:
        with urllib.request.urlopen(base + url.split("://", 1)[1]) as r:
            return r.read()

    try:
        cache = tmp_path / "cache"
        first = SchemaStore(cache=cache, fetch=fetch)
        assert validate_catalog(catalogue, first).ok
        assert "https://stac-extensions.github.io/projection/v2.0.0/schema.json" in first.fetched
        assert (cache / "stac-extensions.github.io/projection/v2.0.0/schema.json").is_file()
        assert (cache / "schemas.stacspec.org/v1.1.0/item-spec/json-schema/basics.json").is_file()
        second = SchemaStore(cache=cache, fetch=fetch)
        assert validate_catalog(catalogue, second).ok and second.fetched == []
    finally:
        server.shutdown()
