"""The STAC API, once per back-end (tests/api_backends.py: "embedded" = ``serve --api``; others may be added).

Real servers on 127.0.0.1, real clients: pystac-client searches return exactly what ``sen2val-stac query``
(:func:`sen2val_stac.catalog.query.query_frame`) returns for the same filters; CQL2 filters are checked
against the same rows filtered with pandas; stac-api-validator runs with its schema look-ups answered from
the offline mirror; bad input gets a 400 naming the parameter; a re-index is seen without a restart.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from urllib.parse import urljoin

import pandas as pd
import pytest
import requests
from api_backends import SCHEMAS, ApiServer, fresh_stac_api, offline_schemas, stac_api, stac_api_server
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.catalog.query import query_frame
from sen2val_stac.config import load_config

FIXTURES = (stac_api, stac_api_server, fresh_stac_api)  # pytest finds fixtures by the names imported here

# 40KCB only (the 38KQE tile is far west of it), and a window of three of the five dates.
BBOX_40KCB = (55.2, -21.5, 55.9, -21.0)
START, END = "2022-03-01", "2022-09-30"
DATETIME = "2022-03-01T00:00:00Z/2022-09-30T23:59:59Z"


def _ids(search) -> list[str]:
    return sorted(item.id for item in search.items())


@pytest.fixture(scope="module")
def frame(stac_api_server: ApiServer) -> pd.DataFrame:
    """Every item of the served catalogue, from its parquet index (what ``sen2val-stac query`` reads)."""
    return query_frame(stac_api_server.catalog)


@pytest.fixture(scope="module")
def client(stac_api: str) -> Client:
    return Client.open(stac_api)


# --- landing page, conformance, collections, items ----------------------------------------------


def test_landing_page_and_conformance(client: Client, stac_api: str, stac_api_server: ApiServer) -> None:
    for cc in (ConformanceClasses.CORE, ConformanceClasses.COLLECTIONS, ConformanceClasses.FEATURES,
               ConformanceClasses.ITEM_SEARCH, ConformanceClasses.FILTER):
        assert client.conforms_to(cc), cc
    assert any(c.endswith("/item-search#sort") for c in client.get_conforms_to())  # sort 1.0 or 1.1
    landing = requests.get(stac_api, timeout=30).json()
    rels = {(link["rel"], link.get("method", "GET")) for link in landing["links"]}
    assert {("self", "GET"), ("data", "GET"), ("conformance", "GET"), ("search", "GET"), ("search", "POST")} <= rels
    conforms = requests.get(urljoin(stac_api, "conformance"), timeout=30).json()["conformsTo"]
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conforms
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json" in conforms
    served = sorted(c.id for c in client.get_collections())
    assert served == sorted(p.parent.name for p in stac_api_server.catalog.glob("*/collection.json")
                            if "sen2chain:index" in json.loads(p.read_text()))


def test_collection_and_item_endpoints(client: Client, stac_api: str, frame: pd.DataFrame) -> None:
    ndvi = client.get_collection("ndvi")
    assert ndvi.extent.spatial.bboxes and ndvi.extent.temporal.intervals
    item_id = frame[frame["collection"] == "ndvi"]["id"].iloc[0]
    item = requests.get(urljoin(stac_api, f"collections/ndvi/items/{item_id}"), timeout=30).json()
    assert item["id"] == item_id and item["collection"] == "ndvi"
    self_href = next(link["href"] for link in item["links"] if link["rel"] == "self")
    assert requests.get(self_href, timeout=30).json()["id"] == item_id
    assert requests.get(urljoin(stac_api, "collections/nope"), timeout=30).status_code == 404
    assert requests.get(urljoin(stac_api, "collections/ndvi/items/nope"), timeout=30).status_code == 404
    queryables = requests.get(urljoin(stac_api, "queryables"), timeout=30).json()
    assert {"eo:cloud_cover", "sen2chain:tile", "platform", "datetime"} <= set(queryables["properties"])


def test_items_have_absolute_hrefs_this_server_answers(client: Client, stac_api: str) -> None:
    """Asset hrefs and links are absolute, and the same server serves the files (rasters with byte ranges)."""
    item = next(client.search(collections=["ndvi"], max_items=1).items())
    for key, asset in item.assets.items():
        assert asset.href.startswith(stac_api), (key, asset.href)
    for link in item.links:
        assert link.href.startswith(("http://", "https://")), link
    raster = requests.get(item.assets["index"].href, headers={"Range": "bytes=0-11"}, timeout=30)
    assert raster.status_code == 206 and raster.content[4:8] == b"jP  "  # JPEG2000 signature box
    thumb = requests.get(item.assets["thumbnail"].href, timeout=30)
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")


# --- searches equal to `sen2val-stac query` ------------------------------------------------------

SEARCHES = {
    "bbox": (dict(bbox=BBOX_40KCB), dict(bbox=BBOX_40KCB)),
    "datetime": (dict(datetime=DATETIME), dict(start=START, end=END)),
    "collections": (dict(collections=["ndvi"]), dict(index="NDVI")),
    "all-three": (dict(collections=["mndwi"], bbox=BBOX_40KCB, datetime=DATETIME),
                  dict(index="MNDWI", bbox=BBOX_40KCB, start=START, end=END)),
    "intersects": (dict(intersects={"type": "Polygon", "coordinates": [[
        [BBOX_40KCB[0], BBOX_40KCB[1]], [BBOX_40KCB[2], BBOX_40KCB[1]], [BBOX_40KCB[2], BBOX_40KCB[3]],
        [BBOX_40KCB[0], BBOX_40KCB[3]], [BBOX_40KCB[0], BBOX_40KCB[1]]]]}), dict(bbox=BBOX_40KCB)),
}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_search_equals_query(client: Client, stac_api_server: ApiServer, name: str, method: str) -> None:
    api_args, query_args = SEARCHES[name]
    expected = sorted(query_frame(stac_api_server.catalog, **query_args)["id"])
    assert expected, "the filter must select something"
    got = _ids(client.search(method=method, limit=4, **api_args))
    assert got == expected


def test_search_by_ids(client: Client, frame: pd.DataFrame) -> None:
    wanted = sorted(frame["id"].iloc[[0, 7, 21]])
    assert _ids(client.search(ids=wanted)) == wanted
    assert _ids(client.search(ids=[*wanted, "no-such-item"], collections=["ndvi"])) == [i for i in wanted if i.startswith("NDVI")]


def test_search_equals_the_query_command(client: Client, stac_api_server: ApiServer) -> None:
    """The same filters through the CLI, parsed from its CSV output."""
    done = subprocess.run([sys.executable, "-m", "sen2val_stac", "query", str(stac_api_server.catalog), "--index", "NDWIGAO",
                           "--start", START, "--end", END, "--format", "csv"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = sorted(line.split(",")[0] for line in done.stdout.splitlines()[1:] if line)
    assert expected
    assert _ids(client.search(collections=["ndwigao"], datetime=DATETIME)) == expected


CQL2 = {
    "text": ("\"eo:cloud_cover\" < 21 AND \"sen2chain:tile\" = '40KCB'", "cql2-text"),
    "json": ({"op": "and", "args": [{"op": "<", "args": [{"property": "eo:cloud_cover"}, 21]},
                                    {"op": "=", "args": [{"property": "sen2chain:tile"}, "40KCB"]}]}, "cql2-json"),
    "properties-prefix": ({"op": "<", "args": [{"property": "properties.eo:cloud_cover"}, 21]}, "cql2-json"),
    "in-list": ("platform IN ('sentinel-2b') AND \"sen2chain:index\" <> 'NDVI'", "cql2-text"),
    "spatial": (f"S_INTERSECTS(geometry, BBOX({','.join(map(str, BBOX_40KCB))}))", "cql2-text"),
    "temporal": ("T_INTERSECTS(datetime, INTERVAL('2022-03-01T00:00:00Z', '2022-09-30T23:59:59Z'))", "cql2-text"),
}


def _cql2_expected(name: str, frame: pd.DataFrame, catalog) -> list[str]:
    cc, tile = frame["eo:cloud_cover"], frame["sen2chain:tile"]
    selected = {
        "text": frame[(cc < 21) & (tile == "40KCB")],
        "json": frame[(cc < 21) & (tile == "40KCB")],
        "properties-prefix": frame[cc < 21],
        "in-list": frame[(frame["platform"] == "sentinel-2b") & (frame["sen2chain:index"] != "NDVI")],
        "spatial": query_frame(catalog, bbox=BBOX_40KCB),
        "temporal": query_frame(catalog, start=START, end=END),
    }[name]
    return sorted(selected["id"])


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("name", sorted(CQL2))
def test_cql2_filter(client: Client, frame: pd.DataFrame, stac_api_server: ApiServer, name: str, method: str) -> None:
    expression, lang = CQL2[name]
    expected = _cql2_expected(name, frame, stac_api_server.catalog)
    assert expected and len(expected) < len(frame), "the filter must select some, not all"
    assert _ids(client.search(method=method, filter=expression, filter_lang=lang, limit=5)) == expected


def test_sortby(client: Client, frame: pd.DataFrame) -> None:
    by_date = [i.id for i in client.search(sortby=[{"field": "properties.datetime", "direction": "desc"},
                                                   {"field": "id", "direction": "asc"}], limit=8).items()]
    expected = frame.sort_values(["datetime", "id"], ascending=[False, True])["id"].tolist()
    assert by_date == expected
    clouds = [i.properties["eo:cloud_cover"] for i in client.search(collections=["ndvi"], sortby="+eo:cloud_cover",
                                                                    method="GET").items()]
    assert len(clouds) == (frame["collection"] == "ndvi").sum() and clouds == sorted(clouds)


def test_paging_through_every_item(client: Client, stac_api: str, frame: pd.DataFrame) -> None:
    search = client.search(limit=7)
    pages = list(search.pages_as_dicts())
    assert len(pages) == math.ceil(len(frame) / 7)
    ids = [f["id"] for page in pages for f in page["features"]]
    assert sorted(ids) == sorted(frame["id"]) and len(set(ids)) == len(ids)
    assert pages[0].get("numberMatched", len(frame)) == len(frame)
    # /collections/{id}/items pages through its next links too
    url, seen = urljoin(stac_api, "collections/ndvi/items?limit=3"), []
    while url:
        page = requests.get(url, timeout=30).json()
        seen += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert sorted(seen) == sorted(frame[frame["collection"] == "ndvi"]["id"])


# --- stac-api-validator ---------------------------------------------------------------------------


def test_stac_api_validator(stac_api: str) -> None:
    if not SCHEMAS.is_dir():
        pytest.skip(f"offline STAC schema mirror not found at {SCHEMAS}")
    from stac_api_validator.validations import QueryConfig, validate_api

    geometry = json.dumps({"type": "Point", "coordinates": [55.5, -21.2]})
    with offline_schemas() as served:
        _warnings, errors = validate_api(
            root_url=stac_api, ccs_to_validate=["core", "collections", "features", "item-search", "filter", "sort"],
            collection="ndvi", geometry=geometry, auth_bearer_token=None, auth_query_parameter=None,
            fields_nested_property=None, validate_pagination=True, query_config=QueryConfig(*[None] * 13),
            transaction_collection=None, headers=None)
    assert not list(errors), "\n".join(map(str, errors))
    assert any("stac-extensions.github.io" in url for url in served)  # the item schemas were really checked


# --- bad input ------------------------------------------------------------------------------------

BAD = [
    ("GET", {"bbox": "55,-21,56"}, "bbox"),
    ("GET", {"bbox": "55,-20,56,-21"}, "bbox"),
    ("GET", {"bbox": "a,b,c,d"}, "bbox"),
    ("POST", {"bbox": [55, -20, 56, -21]}, "bbox"),
    ("GET", {"datetime": "2022-13-01T00:00:00Z"}, "datetime"),
    ("GET", {"datetime": "2022-06-01T00:00:00Z/2022-01-01T00:00:00Z"}, "datetime"),
    ("POST", {"datetime": "yesterday"}, "datetime"),
    ("GET", {"filter": "eo:cloud_cover <", "filter-lang": "cql2-text"}, "filter"),
    ("GET", {"filter": "{\"op\": \"<\"}", "filter-lang": "cql2-json"}, "filter"),
    ("POST", {"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}]}}, "filter"),
    ("GET", {"limit": "0"}, "limit"),
    ("GET", {"limit": "ten"}, "limit"),
    ("POST", {"limit": -1}, "limit"),
]


@pytest.mark.parametrize(("method", "params", "parameter"), BAD, ids=[f"{m}-{p}-{i}" for i, (m, _, p) in enumerate(BAD)])
def test_bad_input_is_a_400_naming_the_parameter(stac_api: str, method: str, params: dict, parameter: str) -> None:
    url = urljoin(stac_api, "search")
    response = requests.get(url, params=params, timeout=30) if method == "GET" else requests.post(url, json=params, timeout=30)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body.get("code") and isinstance(body.get("description"), str), body
    assert parameter in body["description"], body


def test_filters_cannot_call_functions_or_read_files(stac_api: str, stac_api_server: ApiServer) -> None:
    """CQL2 goes to SQL in the embedded back-end: only CQL2 operators pass, and the database reads no file."""
    if stac_api_server.name != "embedded":
        pytest.skip("embedded back-end only: CQL2 is turned into DuckDB SQL there")
    for expression in ("read_text('/etc/passwd') = 'x'", "\"platform\" = 'a'' OR 1=1 --'"):
        response = requests.get(urljoin(stac_api, "search"), params={"filter": expression}, timeout=30)
        if response.status_code == 200:  # the quote is escaped: a plain string comparison that matches nothing
            assert response.json()["features"] == [], expression
        else:
            assert response.status_code == 400 and response.json()["description"].startswith("filter"), response.text


# --- a new index run is seen without a restart -----------------------------------------------------


def test_reindex_is_seen_without_restart(fresh_stac_api: ApiServer) -> None:
    api = fresh_stac_api
    client = Client.open(api.url)
    before = _ids(client.search(collections=["ndvi"]))
    gone = "NDVI_40KCB_20220613"
    assert gone in before
    product = next((api.indices / "NDVI" / "40KCB").glob("*_20220613T*"))
    shutil.rmtree(product)
    index_tree(str(api.indices), str(api.catalog), load_config(None), workers=1)
    api.refresh()
    after = _ids(client.search(collections=["ndvi"]))
    assert after == [i for i in before if i != gone]
    assert requests.get(urljoin(api.url, f"collections/ndvi/items/{gone}"), timeout=30).status_code == 404
    extent = client.get_collection("ndvi").extent.temporal.intervals[0]
    assert extent[0] <= datetime(2022, 1, 5, tzinfo=timezone.utc)
