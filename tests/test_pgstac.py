"""`sen2val-stac pgstac load` into a real PostgreSQL 15 + PostGIS (throw-away cluster, tests/pg_server.py).

Incremental loads (upsert what changed, delete what left), absolute hrefs, the static tree's links dropped,
queryables with their indexes, bad and empty databases, a failure half-way rolled back whole, the `run`
step, and stac-fastapi-pgstac (the documented uvicorn line) answering pystac-client like `query`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest

psycopg = pytest.importorskip("psycopg", reason="pypgstac[psycopg] not installed (pip install -e '.[pgstac]')")
pytest.importorskip("pypgstac", reason="pypgstac not installed (pip install -e '.[pgstac]')")

from pg_server import free_port, pgstac_site  # noqa: E402

from sen2val_stac.catalog.indexer import index_tree  # noqa: E402
from sen2val_stac.catalog.read import iter_items  # noqa: E402
from sen2val_stac.cli import main  # noqa: E402
from sen2val_stac.config import load_config  # noqa: E402
from sen2val_stac.pipeline import parse_steps  # noqa: E402
from sen2val_stac.serve.pgstac import DatabaseError, load_catalog  # noqa: E402
from sen2val_stac.serve.pgstac.prepare import HASH_KEY, STRUCTURAL_RELS  # noqa: E402
from sen2val_stac.serve.pgstac.queryables import INDEXED  # noqa: E402


@pytest.fixture
def site(demo, tmp_path: Path) -> Path:
    """A private copy of the demo tree (INDICES + catalog) that a test may re-index or edit."""
    shutil.copytree(demo[0].parent, tmp_path / "site", symlinks=True)
    return tmp_path / "site"


def _query(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET search_path TO pgstac, public")
        return conn.execute(sql, params or None).fetchall()


def _items(dsn: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item as the API serves it (hydrated), by (collection, id)."""
    return {(c, i): item for c, i, item in _query(dsn, "SELECT collection, id, get_item(id, collection) FROM items")}


def _snapshot(dsn: str) -> dict[str, Any]:
    """Everything a load may touch, with row versions (xmin) so that a rewrite shows even when the JSON is equal."""
    return {
        "items": _query(dsn, "SELECT collection, id, xmin::text, content, private FROM items ORDER BY 1, 2"),
        "collections": _query(dsn, "SELECT id, xmin::text, content FROM collections ORDER BY 1"),
        "queryables": _query(dsn, "SELECT name, collection_ids, property_index_type FROM queryables ORDER BY 1"),
    }


def _item_file(catalog: Path, item_id: str) -> Path:
    return next(ref.path for ref in iter_items(catalog) if ref.id == item_id)


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _reindex(site: Path) -> None:
    index_tree(str(site / "INDICES"), str(site / "catalog"), load_config(None), workers=1, progress=False)


def test_incremental_loads_upsert_changes_and_delete_what_left(pg_server, site) -> None:
    catalog, dsn = site / "catalog", pg_server.database()
    expected = {(ref.item["collection"], ref.id) for ref in iter_items(catalog)}
    first = load_catalog(catalog, dsn)
    assert (first.items_added, first.items_updated, first.items_removed) == (len(expected), 0, 0)
    assert sorted(first.collections_added) == ["mndwi", "ndvi", "ndwigao"]
    assert set(_items(dsn)) == expected

    before = _snapshot(dsn)
    again = load_catalog(catalog, dsn)
    assert (again.items_added, again.items_updated, again.items_removed, again.items_unchanged) == (0, 0, 0, 30)
    assert not (again.collections_added or again.collections_updated or again.queryables_changed)
    assert _snapshot(dsn) == before  # not one row rewritten

    # One product removed from the tree and re-indexed, one item edited.
    gone = next(ref for ref in iter_items(catalog) if ref.index == "NDWIGAO")
    shutil.rmtree(Path(gone.asset_href("index")).parent)
    _reindex(site)
    _edit(_item_file(catalog, "NDVI_40KCB_20220613"), lambda d: d["properties"].update({"eo:cloud_cover": 12.5}))
    third = load_catalog(catalog, dsn)
    assert (third.items_added, third.items_updated, third.items_removed) == (0, 1, 1)
    assert third.items_unchanged == 28
    items = _items(dsn)
    assert ("ndwigao", gone.id) not in items and len(items) == 29
    assert items[("ndvi", "NDVI_40KCB_20220613")]["properties"]["eo:cloud_cover"] == 12.5
    rows_now = {(c, i): x for c, i, x, _, _ in _snapshot(dsn)["items"]}
    rows_before = {(c, i): x for c, i, x, _, _ in before["items"]}
    assert [k for k in rows_now if rows_now[k] != rows_before[k]] == [("ndvi", "NDVI_40KCB_20220613")]

    # A whole index leaves the catalogue: its collection, items, partition and queryables go.
    shutil.rmtree(site / "INDICES" / "MNDWI")
    _reindex(site)
    fourth = load_catalog(catalog, dsn)
    assert fourth.collections_removed == ["mndwi"] and fourth.items_removed == 0  # dropped with the collection
    assert {c for c, _ in _items(dsn)} == {"ndvi", "ndwigao"}
    assert _query(dsn, "SELECT id FROM collections ORDER BY id") == [("ndvi",), ("ndwigao",)]
    ids = _query(dsn, "SELECT collection_ids FROM queryables WHERE name = 'grid:code'")
    assert ids == [(["ndvi", "ndwigao"],)]


def test_hrefs_absolute_and_static_links_dropped(pg_server, demo) -> None:
    catalog = demo[0]
    root, base = "https://data.example.org/stac/", "https://data.example.org/INDICES/"
    dsn = pg_server.database()
    load_catalog(catalog, dsn, root_href=root, asset_href_base=base)
    items = _items(dsn)
    assert len(items) == 30
    for (collection, item_id), item in items.items():
        assert not [link for link in item["links"] if link["rel"] in STRUCTURAL_RELS - {"self", "collection"}]
        assert "private" not in item
        for key, asset in item["assets"].items():
            href = asset["href"]
            if key == "thumbnail":
                local = catalog / href[len(root):]
                assert href == f"{root}{collection}/{item['properties']['sen2chain:tile']}/{item_id}.png"
            else:
                local = catalog.parent / "INDICES" / href[len(base):]
                assert href.startswith(f"{base}{item['properties']['sen2chain:index']}/")
            assert local.is_file(), href
    digests = _query(dsn, "SELECT private->>%s FROM items", (HASH_KEY,))
    assert len(digests) == 30 and all(len(d) == 64 for (d,) in digests)
    for (content,) in _query(dsn, "SELECT content FROM collections"):
        assert [link["rel"] for link in content["links"]] == ["license"]  # thousands of item links gone

    # Not published: file:// URIs of the files themselves; published catalogue only: resolved against it.
    dsn_local, dsn_root = pg_server.database(), pg_server.database()
    load_catalog(catalog, dsn_local)
    load_catalog(catalog, dsn_root, root_href=root)
    for item in _items(dsn_local).values():
        for asset in item["assets"].values():
            parts = urlsplit(asset["href"])
            assert parts.scheme == "file" and Path(url2pathname(parts.path)).is_file()
    item = _items(dsn_root)[("ndvi", "NDVI_40KCB_20220613")]
    assert item["assets"]["index"]["href"].startswith("https://data.example.org/INDICES/NDVI/40KCB/S2A_MSIL2A_")


def test_queryables_registered_with_indexes_and_typed(pg_server, demo) -> None:
    dsn = pg_server.database()
    load_catalog(demo[0], dsn)
    rows = {name: (ids, kind) for name, ids, kind in _query(
        dsn, "SELECT name, collection_ids, property_index_type FROM queryables")}
    for name in INDEXED:
        assert rows[name] == (["mndwi", "ndvi", "ndwigao"], "BTREE")
    partitions = {p for (p,) in _query(dsn, "SELECT format('_items_%s', key) FROM collections")}
    indexed = {}
    for table, field in _query(dsn, "SELECT tablename, field FROM pgstac_indexes"):
        indexed.setdefault(table, set()).add(field)
    assert set(indexed) == partitions and all(set(INDEXED) <= fields for fields in indexed.values())

    # A CQL2 filter on a registered numeric property and a text one finds what Python finds.
    props = {ref.id: ref.item["properties"] for ref in iter_items(demo[0])}
    expected = {i for i, p in props.items() if p.get("eo:cloud_cover", 100) < 20.5 and p["sen2chain:tile"] == "40KCB"}
    assert 0 < len(expected) < len(props)
    search = {"filter": {"op": "and", "args": [
        {"op": "<", "args": [{"property": "eo:cloud_cover"}, 20.5]},
        {"op": "=", "args": [{"property": "sen2chain:tile"}, "40KCB"]}]}, "filter-lang": "cql2-json", "limit": 100}
    ((found,),) = _query(dsn, "SELECT search(%s::jsonb)", (json.dumps(search),))
    assert {f["id"] for f in found["features"]} == expected


def test_unreachable_database_is_named_with_password_masked(demo, capsys) -> None:
    dsn = f"postgresql://stac:s3cret@127.0.0.1:{free_port()}/stac"
    assert main(["pgstac", "load", str(demo[0]), "--dsn", dsn]) == 2
    err = capsys.readouterr().err
    assert f"cannot connect to postgresql://stac:***@127.0.0.1:{dsn.split(':')[3].split('/')[0]}/stac" in err
    assert "Connection refused" in err and "s3cret" not in err


def test_empty_database_refused_untouched_then_migrated_and_loaded(pg_server, demo, capsys) -> None:
    dsn = pg_server.database(pgstac=False)
    with pytest.raises(DatabaseError, match=r"has no pgstac schema .*sen2val-stac pgstac migrate"):
        load_catalog(demo[0], dsn)
    assert _query(dsn, "SELECT to_regnamespace('pgstac')") == [(None,)]  # nothing created
    assert main(["pgstac", "migrate", "--dsn", dsn]) == 0
    assert "pgstac 0.10.0 in postgresql://postgres:***@" in capsys.readouterr().out
    assert main(["pgstac", "load", str(demo[0]), "--dsn", dsn]) == 0
    assert capsys.readouterr().out.startswith("30 items in postgresql://postgres:***@")


def test_failure_half_way_rolls_back_everything(pg_server, site) -> None:
    catalog, dsn = site / "catalog", pg_server.database()
    load_catalog(catalog, dsn)
    before = _snapshot(dsn)
    # Changes that load before the failure: a collection's title, an item of the first partition...
    _edit(catalog / "ndvi" / "collection.json", lambda d: d.update({"title": "changed"}))
    _edit(_item_file(catalog, "NDVI_40KCB_20220613"), lambda d: d["properties"].update({"eo:cloud_cover": 1.0}))
    # ...then an item of the last partition the database cannot take (30 February).
    _edit(_item_file(catalog, "NDWIGAO_40KCB_20220613"),
          lambda d: d["properties"].update({"datetime": "2022-02-30T06:36:11Z"}))
    with pytest.raises(DatabaseError) as err:
        load_catalog(catalog, dsn)
    message = str(err.value)
    assert "nothing changed (rolled back)" in message and "out of range" in message
    assert "postgresql://postgres:***@" in message
    assert _snapshot(dsn) == before


def test_run_step_loads_the_database(pg_server, site, capsys) -> None:
    assert parse_steps("metadata,pgstac,index", "steps") == ("index", "pgstac", "metadata")
    config = site / "sen2val.yaml"
    config.write_text("catalog_dir: catalog\nindices_dir: INDICES\n", encoding="utf-8")
    assert main(["run", "--config", str(config), "--steps", "pgstac"]) == 2
    assert f"{config}: key 'pgstac.dsn' is required by the pgstac step" in capsys.readouterr().err
    dsn = pg_server.database()
    config.write_text(f"catalog_dir: catalog\nindices_dir: INDICES\npgstac:\n  dsn: {dsn}\n", encoding="utf-8")
    assert main(["run", "--config", str(config), "--steps", "pgstac"]) == 0
    out = capsys.readouterr().out
    assert "pgstac  ok" in out and "30 items in postgresql://postgres:***@" in out
    assert len(_items(dsn)) == 30


def test_stac_fastapi_pgstac_answers_like_query(demo, tmp_path) -> None:
    """The plain stac-fastapi-pgstac uvicorn line over a loaded database: pystac-client finds what `query` finds."""
    pystac_client = pytest.importorskip("pystac_client")
    import requests

    from sen2val_stac.catalog.query import query_items

    shutil.copytree(demo[0].parent, tmp_path / "site", symlinks=True)
    catalog = tmp_path / "site" / "catalog"
    with pgstac_site(catalog, tmp_path / "site" / "INDICES", one_origin=False) as served:
        client = pystac_client.Client.open(served.api_url)
        bbox, start, end = (55.0, -21.5, 56.0, -21.0), "2022-01-01", "2022-06-30"
        found = client.search(collections=["ndvi"], bbox=bbox, datetime=f"{start}/{end}T23:59:59Z", max_items=None)
        expected = query_items(catalog, index="NDVI", bbox=bbox, start=start, end=end)
        assert sorted(i.id for i in found.items()) == sorted(r.id for r in expected) and expected
        every = client.search(max_items=None, limit=7)  # paging through every item
        assert sorted(i.id for i in every.items()) == sorted(r.id for r in iter_items(catalog))
        item = client.get_collection("ndvi").get_item("NDVI_40KCB_20220613")
        assert item is not None
        for asset in item.assets.values():  # every asset href answers, from the static server
            assert requests.head(asset.href, timeout=10).status_code == 200
