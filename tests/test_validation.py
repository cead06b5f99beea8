"""Schema validation: a pystac-built catalogue, the offline mirror, the download cache, and the errors it must catch."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pystac
import pytest
from pystac.extensions.eo import EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.grid import GridExtension
from pystac.extensions.mgrs import MgrsExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from pystac.extensions.sat import OrbitState, SatExtension

from sen2val_stac.cli import main
from sen2val_stac.validate.validation import (
    NO_SCHEMA,
    CatalogUnreadable,
    SchemaStore,
    SchemaUnavailable,
    bundled_schemas,
    default_cache_dir,
    fetch_via,
    url_to_path,
    validate_catalog,
)

MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "stac-schemas"
EXT = "https://stac-extensions.github.io"
ITEM_SCHEMA = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"
EXPECTED_EXTENSIONS = {
    f"{EXT}/projection/v2.0.0/schema.json",
    f"{EXT}/raster/v1.1.0/schema.json",
    f"{EXT}/file/v2.1.0/schema.json",
    f"{EXT}/eo/v1.1.0/schema.json",
    f"{EXT}/sat/v1.0.0/schema.json",
    f"{EXT}/grid/v1.1.0/schema.json",
    f"{EXT}/mgrs/v1.0.0/schema.json",
}
MISSING_EXTENSION = f"{EXT}/nope/v9.9.9/schema.json"


@pytest.fixture(scope="module")
def mirror() -> Path:
    """The offline STAC schema mirror, ``../shared/stac-schemas`` beside the repository."""
    if not (MIRROR / "schemas.stacspec.org").is_dir():
        pytest.skip(f"offline STAC schema mirror not found at {MIRROR} (expected a sibling of the repo: ../shared)")
    return MIRROR


def make_item(n: int) -> pystac.Item:
    """The ``n``-th daily Sen2Chain-like NDVI item, with projection v2, raster, file, eo, sat, grid and mgrs fields."""
    when = dt.datetime(2022, 1, 1, 6, 27, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=n)
    ring = [[55.2, -21.4], [56.1, -21.4], [56.1, -20.5], [55.2, -20.5], [55.2, -21.4]]
    item = pystac.Item(
        id=f"NDVI_40KCB_{when:%Y%m%d}",
        geometry={"type": "Polygon", "coordinates": [ring]},
        bbox=[55.2, -21.4, 56.1, -20.5],
        datetime=when,
        properties={"platform": "sentinel-2a", "constellation": "sentinel-2", "instruments": ["msi"]},
    )
    asset = pystac.Asset(f"{item.id}.jp2", media_type="image/jp2", roles=["data"])
    item.add_asset("index", asset)
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = "EPSG:32740"
    proj.shape = [10980, 10980]
    proj.transform = [10.0, 0.0, 300000.0, 0.0, -10.0, 7700020.0]
    proj.bbox = [300000.0, 7590220.0, 409800.0, 7700020.0]
    EOExtension.ext(item, add_if_missing=True).cloud_cover = 12.5
    sat = SatExtension.ext(item, add_if_missing=True)
    sat.relative_orbit = 134
    sat.orbit_state = OrbitState.DESCENDING
    GridExtension.ext(item, add_if_missing=True).code = "MGRS-40KCB"
    mgrs = MgrsExtension.ext(item, add_if_missing=True)
    mgrs.utm_zone, mgrs.latitude_band, mgrs.grid_square = 40, "K", "CB"
    file_ext = FileExtension.ext(asset, add_if_missing=True)
    file_ext.size = 123456
    file_ext.checksum = "1220" + "ab" * 32
    RasterExtension.ext(asset, add_if_missing=True).bands = [
        RasterBand.create(nodata=-32768, data_type=DataType.INT16, scale=0.0001, offset=0.0, spatial_resolution=10.0)
    ]
    return item


def build_catalogue(
    dest: Path,
    items: int = 2,
    catalog_type: pystac.CatalogType = pystac.CatalogType.SELF_CONTAINED,
    root_href: str | None = None,
) -> Path:
    """Catalog -> Collection ``ndvi`` -> ``items`` items, saved under ``dest``; returns ``dest``."""
    catalog = pystac.Catalog("sen2chain", "Sen2Chain indices")
    extent = pystac.Extent(
        pystac.SpatialExtent([[55.2, -21.4, 56.1, -20.5]]),
        pystac.TemporalExtent([[dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc), None]]),
    )
    collection = pystac.Collection("ndvi", "NDVI of the Sen2Chain tiles", extent, license="CC-BY-4.0")
    collection.summaries.add("platform", ["sentinel-2a"])
    collection.summaries.add("eo:cloud_cover", pystac.RangeSummary(0.0, 50.0))
    collection.summaries.add("proj:code", {"type": "string", "pattern": "^EPSG:"})  # checked by the metaschema
    catalog.add_child(collection)
    for n in range(items):
        collection.add_item(make_item(n))
    catalog.normalize_hrefs(root_href or str(dest))
    catalog.save(catalog_type, dest_href=str(dest))
    return dest


@pytest.fixture()
def catalogue(tmp_path: Path) -> Path:
    return build_catalogue(tmp_path / "stac")


ITEM1 = "ndvi/NDVI_40KCB_20220101/NDVI_40KCB_20220101.json"
ITEM2 = "ndvi/NDVI_40KCB_20220102/NDVI_40KCB_20220102.json"


def edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=1))


# --- a valid catalogue ---------------------------------------------------------------------------------


def test_pystac_writes_the_expected_extension_versions(catalogue: Path) -> None:
    item = json.loads((catalogue / ITEM1).read_text())
    assert set(item["stac_extensions"]) == EXPECTED_EXTENSIONS
    assert item["properties"]["proj:code"] == "EPSG:32740" and "proj:epsg" not in item["properties"]


def test_valid_catalogue_via_api_and_cli(catalogue: Path, mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = validate_catalog(catalogue, SchemaStore(mirror=mirror))
    assert result.ok, [str(e) for e in result.errors]
    assert sorted(Path(f).relative_to(catalogue).as_posix() for f in result.files) == sorted(
        ["catalog.json", "ndvi/collection.json", ITEM1, ITEM2]
    )
    assert result.skipped_links == []
    assert main(["validate", str(catalogue), "--schemas", str(mirror)]) == 0
    out = capsys.readouterr().out
    assert "4 of 4 files valid" in out and str(mirror) in out


def test_root_json_file_and_published_catalogues(tmp_path: Path, mirror: Path) -> None:
    """The root file may be given directly; absolute hrefs (file paths or published URLs) are followed."""
    local = build_catalogue(tmp_path / "abs", catalog_type=pystac.CatalogType.ABSOLUTE_PUBLISHED)
    assert json.loads((local / "catalog.json").read_text())["links"][1]["href"].startswith(str(local))
    published = build_catalogue(
        tmp_path / "pub", catalog_type=pystac.CatalogType.ABSOLUTE_PUBLISHED, root_href="https://example.org/stac"
    )
    assert "https://example.org/stac/ndvi/collection.json" in (published / "catalog.json").read_text()
    for root in (local, published, local / "catalog.json"):
        result = validate_catalog(root, SchemaStore(mirror=mirror))
        assert result.ok and len(result.files) == 4 and not result.skipped_links, root


def test_mirror_mode_never_downloads(catalogue: Path, mirror: Path) -> None:
    def no_network(url: str) -> bytes:
        raise AssertionError(f"network used for {url}")

    store = SchemaStore(mirror=mirror, fetch=no_network)
    assert validate_catalog(catalogue, store).ok and store.fetched == []


def test_each_schema_is_read_once_and_validators_are_cached(tmp_path: Path, mirror: Path) -> None:
    small, large = SchemaStore(mirror=mirror), SchemaStore(mirror=mirror)
    assert validate_catalog(build_catalogue(tmp_path / "small", items=2), small).ok
    assert validate_catalog(build_catalogue(tmp_path / "large", items=40), large).ok
    assert small.reads == large.reads  # independent of the number of items
    assert large.validator(ITEM_SCHEMA) is large.validator(ITEM_SCHEMA)


# --- what must be caught ---------------------------------------------------------------------------------


def _add_epsg(doc: dict[str, Any]) -> None:
    doc["properties"]["proj:epsg"] = 32740


def _drop_datetime(doc: dict[str, Any]) -> None:
    del doc["properties"]["datetime"]


def _bad_file_size(doc: dict[str, Any]) -> None:
    doc["assets"]["index"]["file:size"] = "big"


def _unknown_extension(doc: dict[str, Any]) -> None:
    doc["stac_extensions"].append(MISSING_EXTENSION)


def _bad_datetime(doc: dict[str, Any]) -> None:
    pytest.importorskip("rfc3339_validator", reason="jsonschema checks date-time formats only with rfc3339-validator")
    doc["properties"]["datetime"] = "2022-13-45T06:27:01Z"


BREAKAGES = {
    # name: (change, schema that reports it, fragments of the message)
    "proj:epsg under projection v2": (_add_epsg, f"{EXT}/projection/v2.0.0/schema.json", ["not allowed", "proj:epsg"]),
    "missing datetime": (_drop_datetime, ITEM_SCHEMA, ["datetime", "required"]),
    "file:size of the wrong type": (_bad_file_size, f"{EXT}/file/v2.1.0/schema.json", ["'big'", "integer"]),
    "extension absent from the mirror": (_unknown_extension, MISSING_EXTENSION, ["not in the mirror", "nope"]),
    "impossible datetime": (_bad_datetime, ITEM_SCHEMA, ["date-time"]),
}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_breakage_is_reported_with_the_file(
    name: str, catalogue: Path, mirror: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, schema, fragments = BREAKAGES[name]
    broken = catalogue / ITEM2
    edit(broken, change)
    result = validate_catalog(catalogue, SchemaStore(mirror=mirror))
    assert result.invalid_files == [str(broken)]
    problems = result.errors_for(broken)
    assert {p.schema for p in problems} == {schema}, problems
    assert all(fragment in problems[0].message for fragment in fragments), problems[0].message
    assert main(["validate", str(catalogue), "--schemas", str(mirror)]) == 1
    out = capsys.readouterr().out
    assert f"{broken}" in out and "3 of 4 files valid, 1 invalid" in out


def test_json_report_lists_every_file_with_its_problems(
    catalogue: Path, mirror: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(catalogue / ITEM1, _bad_file_size)
    edit(catalogue / ITEM2, _drop_datetime)
    edit(catalogue / ITEM2, _add_epsg)
    assert main(["validate", str(catalogue), "--schemas", str(mirror), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and str(mirror) in report["schemas"]
    assert (report["files_checked"], report["files_invalid"], report["problems"]) == (4, 2, 3)
    by_path = {Path(f["path"]).relative_to(catalogue).as_posix(): f for f in report["files"]}
    assert list(by_path) == ["catalog.json", "ndvi/collection.json", ITEM1, ITEM2]  # the order reached
    assert by_path["catalog.json"] == {"path": str(catalogue / "catalog.json"), "valid": True, "errors": []}
    (size,) = by_path[ITEM1]["errors"]
    assert size["location"] == "$.assets.index['file:size']" and size["schema"] == f"{EXT}/file/v2.1.0/schema.json"
    assert {e["schema"] for e in by_path[ITEM2]["errors"]} == {ITEM_SCHEMA, f"{EXT}/projection/v2.0.0/schema.json"}
    # a valid catalogue: exit 0, every file valid
    edit(catalogue / ITEM1, lambda d: d["assets"]["index"].update({"file:size": 1}))
    build_catalogue(catalogue)
    assert main(["validate", str(catalogue), "--schemas", str(mirror), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and all(f["valid"] for f in report["files"]) and report["problems"] == 0


def test_error_location_points_into_the_document(catalogue: Path, mirror: Path) -> None:
    edit(catalogue / ITEM1, _bad_file_size)
    (problem,) = validate_catalog(catalogue, SchemaStore(mirror=mirror)).errors
    assert problem.location == "$.assets.index['file:size']"
    assert str(problem).startswith(f"{catalogue / ITEM1} at $.assets.index['file:size']: 'big' is not of type")


def test_missing_extension_names_the_expected_mirror_path(catalogue: Path, mirror: Path) -> None:
    edit(catalogue / ITEM1, _unknown_extension)
    (problem,) = validate_catalog(catalogue, SchemaStore(mirror=mirror)).errors
    assert str(mirror / "stac-extensions.github.io" / "nope" / "v9.9.9" / "schema.json") in problem.message


def test_unparsable_and_missing_files(catalogue: Path, mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (catalogue / ITEM1).write_text('{"type": "Feature", "id": ')
    (catalogue / ITEM2).unlink()
    result = validate_catalog(catalogue, SchemaStore(mirror=mirror))
    assert result.invalid_files == [str(catalogue / ITEM1), str(catalogue / ITEM2)]
    (unparsable,) = result.errors_for(catalogue / ITEM1)
    assert unparsable.schema == NO_SCHEMA and unparsable.message.startswith("not readable JSON")
    assert result.errors_for(catalogue / ITEM2)[0].message == "linked file does not exist"
    assert main(["validate", str(catalogue), "--schemas", str(mirror)]) == 1
    out = capsys.readouterr().out
    assert f"{catalogue / ITEM1}: not readable JSON" in out and "2 of 4 files valid, 2 invalid" in out


def test_several_breakages_in_one_run(catalogue: Path, mirror: Path) -> None:
    edit(catalogue / ITEM1, _add_epsg)
    edit(catalogue / ITEM2, _drop_datetime)
    edit(catalogue / "ndvi/collection.json", lambda d: d.pop("extent"))
    result = validate_catalog(catalogue, SchemaStore(mirror=mirror))
    assert sorted(Path(p).name for p in result.invalid_files) == sorted(
        ["collection.json", Path(ITEM1).name, Path(ITEM2).name]
    )
    assert any("extent" in e.message for e in result.errors_for(catalogue / "ndvi/collection.json"))


def test_collection_summary_json_schema_is_checked(catalogue: Path, mirror: Path) -> None:
    """A JSON Schema summary is validated against the draft-07 metaschema (a $ref left to jsonschema's registry)."""
    edit(catalogue / "ndvi/collection.json", lambda d: d["summaries"].update({"proj:code": {"type": "text"}}))
    problems = validate_catalog(catalogue, SchemaStore(mirror=mirror)).errors
    assert [Path(p.path).name for p in problems] == ["collection.json"]
    assert problems[0].location == "$.summaries['proj:code'].type"


def test_nested_reference_missing_from_the_mirror(tmp_path: Path, catalogue: Path, mirror: Path) -> None:
    """projection v2 refers to proj.org's PROJJSON schema: only a document that uses it needs it."""
    partial = tmp_path / "partial-mirror"
    shutil.copytree(mirror, partial, ignore=shutil.ignore_patterns("proj.org"))
    assert validate_catalog(catalogue, SchemaStore(mirror=partial)).ok
    edit(catalogue / ITEM1, lambda d: d["properties"].update({"proj:projjson": {"type": "GeographicCRS"}}))
    problems = validate_catalog(catalogue, SchemaStore(mirror=partial)).errors
    assert problems and {p.path for p in problems} == {str(catalogue / ITEM1)}
    message = " ".join(p.message for p in problems)
    assert "https://proj.org/schemas/v0.7/projjson.schema.json" in message
    assert str(partial / "proj.org" / "schemas" / "v0.7" / "projjson.schema.json") in message
    # with the full mirror the same document is checked against PROJJSON itself
    problems = validate_catalog(catalogue, SchemaStore(mirror=mirror)).errors
    assert problems and all("mirror" not in p.message for p in problems)


def test_unreadable_catalogue_exits_2(tmp_path: Path, mirror: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nowhere"), "--schemas", str(mirror)]) == 2
    (tmp_path / "catalog.json").write_text("not json")
    assert main(["validate", str(tmp_path), "--schemas", str(mirror)]) == 2
    assert "not readable JSON" in capsys.readouterr().err
    with pytest.raises(CatalogUnreadable):
        validate_catalog(tmp_path, SchemaStore(mirror=mirror))


def test_screen_and_jsonschema_alone_give_the_same_result(tmp_path: Path, mirror: Path) -> None:
    """The compiled screen only decides which documents jsonschema explains: findings are those of jsonschema."""
    root = build_catalogue(tmp_path / "stac", items=12)
    edit(root / "ndvi/NDVI_40KCB_20220110/NDVI_40KCB_20220110.json", _bad_file_size)
    edit(root / "ndvi/NDVI_40KCB_20220109/NDVI_40KCB_20220109.json", _add_epsg)
    (root / "ndvi/NDVI_40KCB_20220111/NDVI_40KCB_20220111.json").write_text("[")
    screened = SchemaStore(mirror=mirror)
    result = validate_catalog(root, screened)
    assert result == validate_catalog(root, SchemaStore(mirror=mirror, screen=False))
    assert len(result.invalid_files) == 3
    assert screened.screen(ITEM_SCHEMA) is not None  # the screen was really used


def test_screen_answers_like_jsonschema_on_every_draft7_keyword_it_compiles() -> None:
    """The pass/fail screen (no message code) accepts and rejects what jsonschema does, ``const`` included (on
    which fastjsonschema's own ``detailed_exceptions=False`` fails), and never writes defaults."""
    import jsonschema

    from sen2val_stac.validate.schemas import compile_screen

    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["type"],
              "properties": {"type": {"const": "Feature"}, "n": {"type": "integer", "minimum": 0, "default": 1},
                             "when": {"type": "string", "format": "date-time"},
                             "kind": {"enum": ["a", "b"]}, "tags": {"type": "array", "items": {"type": "string"}}},
              "oneOf": [{"required": ["n"]}, {"required": ["tags"]}], "additionalProperties": False}
    screen = compile_screen(schema, {}, use_formats=True)
    checker = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    documents = [{"type": "Feature", "n": 2}, {"type": "Collection", "n": 2}, {"type": "Feature"},
                 {"type": "Feature", "n": -1}, {"type": "Feature", "tags": ["x"], "kind": "c"},
                 {"type": "Feature", "n": 1, "tags": []}, {"type": "Feature", "n": 1, "extra": 0},
                 {"type": "Feature", "n": 1, "when": "2022-13-45T06:27:01Z"},
                 {"type": "Feature", "n": 1, "when": "2022-01-04T06:27:01Z"}]
    for doc in documents:
        before = json.dumps(doc)
        try:
            screen(doc)
            passed = True
        except Exception:
            passed = False
        assert passed == checker.is_valid(doc), doc
        assert json.dumps(doc) == before  # no default written
    assert sum(checker.is_valid(d) for d in documents) == 2


def test_project_schemas_are_read_from_the_package(tmp_path: Path, catalogue: Path, mirror: Path) -> None:
    """A schema the project publishes is read from its own file (never the mirror or the network)."""
    ours = "https://example.org/ours/v1.0.0/schema.json"
    schema_file = tmp_path / "ours.json"
    schema_file.write_text(json.dumps({
        "$schema": "http://json-schema.org/draft-07/schema#", "$id": ours + "#",
        "type": "object", "properties": {"properties": {"properties": {"ours:n": {"type": "integer"}}}}}))
    edit(catalogue / ITEM1, lambda d: (d["stac_extensions"].append(ours), d["properties"].update({"ours:n": 1})))
    edit(catalogue / ITEM2, lambda d: (d["stac_extensions"].append(ours), d["properties"].update({"ours:n": "x"})))
    problems = validate_catalog(catalogue, SchemaStore(mirror=mirror, local={ours: schema_file})).errors
    assert [(Path(p.path).name, p.schema, p.location) for p in problems] == [
        (Path(ITEM2).name, ours, "$.properties['ours:n']")]
    shipped = bundled_schemas()  # catalog_templates/schemas/**, by $id
    for url, path in shipped.items():
        assert json.loads(path.read_text())["$id"].rstrip("#") == url
        assert SchemaStore(mirror=tmp_path / "empty").load(url) == json.loads(path.read_text())


def test_url_to_path() -> None:
    assert url_to_path("/m", f"{EXT}/projection/v2.0.0/schema.json#/definitions/x") == Path(
        "/m/stac-extensions.github.io/projection/v2.0.0/schema.json"
    )
    for bad in ("https://example.org/../../etc/passwd", "file:///etc/passwd", "https://example.org/"):
        with pytest.raises(SchemaUnavailable):
            url_to_path("/m", bad)


# --- download cache --------------------------------------------------------------------------------------


@pytest.fixture()
def schema_server(tmp_path: Path, mirror: Path) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server holding a copy of the mirror: ``(base URL, request paths)``."""
    served = tmp_path / "served"
    shutil.copytree(mirror, served)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_cache_is_filled_once(
    tmp_path: Path, catalogue: Path, schema_server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    base, requests = schema_server
    cache = tmp_path / "cache"
    first = SchemaStore(cache=cache, fetch=fetch_via({"https://": base}))
    result = validate_catalog(catalogue, first)
    assert result.ok, [str(e) for e in result.errors]
    assert f"{EXT}/projection/v2.0.0/schema.json" in first.fetched
    assert len(requests) == len(first.fetched) == len(set(first.fetched))
    for cached in (
        "stac-extensions.github.io/projection/v2.0.0/schema.json",
        "schemas.stacspec.org/v1.1.0/item-spec/json-schema/basics.json",  # a relative $ref
        "proj.org/schemas/v0.7/projjson.schema.json",  # an absolute $ref on another host
        "geojson.org/schema/Geometry.json",
    ):
        assert (cache / cached).is_file(), cached
    assert not [p for p in cache.rglob("*") if p.name.startswith(".tmp-")]  # atomic writes left nothing behind

    second = SchemaStore(cache=cache, fetch=fetch_via({"https://": base}))
    assert validate_catalog(catalogue, second).ok
    assert second.fetched == [] and len(requests) == len(first.fetched)
    # the CLI with the same cache needs no network at all
    assert main(["validate", str(catalogue), "--cache", str(cache)]) == 0
    assert "4 of 4 files valid" in capsys.readouterr().out


def test_download_failure_names_the_url(tmp_path: Path, catalogue: Path, schema_server: tuple[str, list[str]]) -> None:
    base, _ = schema_server
    edit(catalogue / ITEM1, _unknown_extension)  # not on the server: HTTP 404
    store = SchemaStore(cache=tmp_path / "cache", fetch=fetch_via({"https://": base}))
    (problem,) = validate_catalog(catalogue, store).errors
    assert problem.schema == MISSING_EXTENSION and "cannot download schema" in problem.message
    assert MISSING_EXTENSION in problem.message and "404" in problem.message
    assert not url_to_path(tmp_path / "cache", MISSING_EXTENSION).exists()


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEN2VAL_SCHEMA_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" and SchemaStore().cache == tmp_path / "c"
    monkeypatch.delenv("SEN2VAL_SCHEMA_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "sen2val-stac" / "schemas"
