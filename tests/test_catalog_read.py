"""The one catalogue reader: link resolution (relative, absolute, file://, published URLs), walking, ItemRef hrefs."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pystac
import pytest

from sen2val_stac.catalog.read import (
    CatalogUnreadable,
    collections,
    href_path,
    iter_items,
    load_items,
    open_root,
    parse_json,
    published_prefix,
    try_read_json,
    walk,
)


def build(dest: Path, catalog_type: pystac.CatalogType = pystac.CatalogType.SELF_CONTAINED,
          root_href: str | None = None) -> Path:
    """Catalog -> index collection ``ndvi`` (``sen2chain:index``) -> two items with a relative ``index`` asset."""
    catalog = pystac.Catalog("sen2chain", "Sen2Chain indices")
    extent = pystac.Extent(pystac.SpatialExtent([[55.2, -21.4, 56.1, -20.5]]),
                           pystac.TemporalExtent([[dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc), None]]))
    collection = pystac.Collection("ndvi", "NDVI", extent, license="CC-BY-4.0",
                                   extra_fields={"sen2chain:index": "NDVI"})
    catalog.add_child(collection)
    for n in (1, 2):
        when = dt.datetime(2022, 1, n, 6, 27, tzinfo=dt.timezone.utc)
        item = pystac.Item(f"NDVI_40KCB_2022010{n}", None, None, when,
                           {"sen2chain:index": "NDVI", "sen2chain:tile": "40KCB"})
        item.add_asset("index", pystac.Asset(f"../../../INDICES/NDVI/40KCB/P{n}/P{n}_NDVI.jp2", media_type="image/jp2"))
        collection.add_item(item)
    catalog.normalize_hrefs(root_href or str(dest))
    catalog.save(catalog_type, dest_href=str(dest))
    return dest


def test_asset_href_is_absolute_whatever_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(tmp_path / "site" / "stac")
    expected = tmp_path / "site" / "INDICES" / "NDVI" / "40KCB" / "P1" / "P1_NDVI.jp2"
    monkeypatch.chdir(tmp_path / "site")
    (ref, _) = load_items("stac")  # a relative catalogue folder
    assert ref.path.is_absolute() and ref.path.is_file()
    href = ref.asset_href("index")
    assert os.path.isabs(href) and Path(href) == expected
    parent = ref.link_href("parent")
    assert parent is not None and os.path.isabs(parent) and Path(parent) == tmp_path / "site/stac/ndvi/collection.json"
    monkeypatch.chdir(tmp_path)  # still the same file from elsewhere
    assert Path(href) == expected


def test_published_catalogue_links_map_onto_the_folder(tmp_path: Path) -> None:
    root = build(tmp_path / "pub", pystac.CatalogType.ABSOLUTE_PUBLISHED, root_href="https://example.org/stac")
    assert published_prefix(json.loads((root / "catalog.json").read_text())) == "https://example.org/stac/"
    ((coll_path, coll),) = collections(root)
    assert coll_path == root / "ndvi" / "collection.json" and coll["id"] == "ndvi"
    assert sorted(ref.id for ref in iter_items(root)) == ["NDVI_40KCB_20220101", "NDVI_40KCB_20220102"]
    assert [f.path.relative_to(root).as_posix() for f in walk(open_root(root))] == [
        "catalog.json", "ndvi/collection.json",
        "ndvi/NDVI_40KCB_20220101/NDVI_40KCB_20220101.json", "ndvi/NDVI_40KCB_20220102/NDVI_40KCB_20220102.json"]


def test_links_outside_the_catalogue(tmp_path: Path) -> None:
    root = build(tmp_path / "stac")
    catalog = json.loads((root / "catalog.json").read_text())
    catalog["links"].append({"rel": "child", "href": "https://elsewhere.org/collection.json"})
    (root / "catalog.json").write_text(json.dumps(catalog))
    skipped: list[str] = []
    assert len(list(walk(open_root(root), skipped=skipped))) == 4
    assert skipped == ["https://elsewhere.org/collection.json"]
    with pytest.raises(CatalogUnreadable, match=r"elsewhere\.org/collection\.json is not under the catalogue"):
        collections(root)


def test_href_path_forms(tmp_path: Path) -> None:
    base = tmp_path / "a" / "item.json"
    assert href_path(base, "../b/x%20y.tif#frag") == tmp_path / "b" / "x y.tif"
    assert href_path(base, "/data/x.tif") == Path("/data/x.tif")
    assert href_path(base, (tmp_path / "c.tif").as_uri()) == tmp_path / "c.tif"
    assert href_path(base, "https://example.org/x.tif") is None
    with pytest.raises(CatalogUnreadable, match="no such catalogue file"):
        open_root(tmp_path / "nowhere")


def test_json_is_read_as_the_standard_library_reads_it(tmp_path: Path) -> None:
    """orjson reads the catalogue, json what orjson refuses (NaN, integers beyond 64 bits): the same documents."""
    for text in ['{"a": [1, 2.5, "x", null, true]}', '{"nodata": NaN, "big": 123456789012345678901234567890}']:
        assert json.dumps(parse_json(text.encode())) == json.dumps(json.loads(text))
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "Feature", "id": ')
    doc, reason = try_read_json(broken)
    assert doc is None and reason is not None and reason.startswith("not readable JSON")
    assert try_read_json(tmp_path / "missing.json") == (None, "linked file does not exist")


def test_index_collections_are_streamed_as_json_reads_them(tmp_path: Path) -> None:
    """iter_items reads a collection's item links as a stream: the same items as the whole document gives,
    whatever the key order, with a document the streaming parser refuses (NaN) read whole, and a collection
    without ``sen2chain:index`` ignored."""
    root = build(tmp_path / "stac")
    coll_file = root / "ndvi" / "collection.json"
    doc = json.loads(coll_file.read_text())
    expected = ["NDVI_40KCB_20220101", "NDVI_40KCB_20220102"]
    index_last = {k: v for k, v in doc.items() if k != "sen2chain:index"} | {"sen2chain:index": "NDVI"}
    for variant in (index_last, doc | {"nodata": float("nan")}):
        coll_file.write_text(json.dumps(variant))
        assert [ref.id for ref in iter_items(root)] == expected
    coll_file.write_text(json.dumps({k: v for k, v in doc.items() if k != "sen2chain:index"}))
    assert list(iter_items(root)) == []
    coll_file.write_text(json.dumps(doc)[:-40])
    with pytest.raises(ValueError):
        list(iter_items(root))
