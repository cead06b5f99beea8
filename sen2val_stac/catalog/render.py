"""Render STAC JSON (items, collections, the root catalog) from indexer records.

Pure functions of (record, configuration, templates): no raster is read here, so the whole
catalogue can be re-rendered after a configuration change in seconds.
"""

from __future__ import annotations

import posixpath
from typing import Any

from sen2val_stac import __version__
from sen2val_stac.core import constants as C
from sen2val_stac.core.templates import index_definition, load_json
from sen2val_stac.tree.names import parse_tile

ROLES = {"index": ["data"], "masked": ["data", "cloud-masked"], "quicklook": ["overview"]}


class Layout:
    """Where each catalogue file lives (paths relative to the catalogue root, POSIX separators)."""

    @staticmethod
    def collection_id(index: str) -> str:
        """Collection id of an index: its name lower-case."""
        return index.lower()

    @staticmethod
    def collection(index: str) -> str:
        """``ndvi/collection.json``."""
        return f"{index.lower()}/{C.COLLECTION_FILE}"

    @staticmethod
    def item(index: str, tile: str, item_id: str) -> str:
        """``ndvi/40KCB/NDVI_40KCB_20160417.json``."""
        return f"{index.lower()}/{tile}/{item_id}.json"

    @staticmethod
    def thumbnail(index: str, tile: str, item_id: str) -> str:
        """``ndvi/40KCB/NDVI_40KCB_20160417.png``."""
        return f"{index.lower()}/{tile}/{item_id}.png"


def href(from_file: str, to_file: str, root_href: str | None) -> str:
    """Link from catalogue file ``from_file`` to ``to_file``: relative, or absolute under ``root_href``."""
    if root_href:
        return root_href.rstrip("/") + "/" + to_file
    rel = posixpath.relpath(to_file, posixpath.dirname(from_file) or ".")
    return rel if rel.startswith(".") else "./" + rel


def _links(from_file: str, root_href: str | None, *links: tuple[str, str, str, str | None]) -> list[dict[str, Any]]:
    out = []
    for rel, target, media, title in links:
        link = {"rel": rel, "href": href(from_file, target, root_href), "type": media}
        if title:
            link["title"] = title
        out.append(link)
    if root_href:
        out.append({"rel": "self", "href": href(from_file, from_file, root_href), "type": "application/json"})
    return out


def _media_type(filename: str) -> str:
    return C.MEDIA_TYPES.get(posixpath.splitext(filename)[1].lower(), "application/octet-stream")


def _asset_title(asset: dict[str, Any], index: str) -> str:
    if asset["kind"] == "index":
        return f"{index} (raw, not cloud-masked)"
    if asset["kind"] == "masked":
        return f"{index} cloud-masked with {asset['mask']}"
    return f"{index} quicklook ({asset['mask']} cloud mask)"


def asset_href(record: dict[str, Any], filename: str, item_file: str, config: dict[str, Any], indices_rel: str) -> str:
    """Href of a source raster: under ``asset_href_base`` when set, else relative to the item file."""
    tail = f"{record['index']}/{record['tile']}/{posixpath.basename(record['folder'])}/{filename}"
    base = config.get("asset_href_base")
    if base:
        return base.rstrip("/") + "/" + tail
    # Pure string arithmetic (never relpath on relative paths, which depends on the working directory).
    up = "../" * posixpath.dirname(item_file).count("/") + "../"
    return posixpath.normpath(up + posixpath.join(indices_rel, tail))


def _raster_bands(asset: dict[str, Any], definition: dict[str, Any]) -> list[dict[str, Any]]:
    bands = []
    for i, dtype in enumerate(asset["dtypes"]):
        band: dict[str, Any] = {"data_type": dtype, "spatial_resolution": asset["resolution"]}
        if asset["nodata"] is not None:
            band["nodata"] = int(asset["nodata"]) if float(asset["nodata"]).is_integer() else asset["nodata"]
        if asset["kind"] != "quicklook":
            if definition.get("scale") is not None:
                band["scale"] = definition["scale"]
                band["offset"] = definition.get("offset") or 0.0
            if definition.get("unit"):
                band["unit"] = definition["unit"]
        band["statistics"] = asset["stats"][i]
        bands.append(band)
    return bands


def asset_dict(record: dict[str, Any], asset: dict[str, Any], item_file: str, config: dict[str, Any], indices_rel: str) -> dict[str, Any]:
    """One raster asset of an item."""
    definition = index_definition(record["index"])
    out: dict[str, Any] = {
        "href": asset_href(record, asset["file"], item_file, config, indices_rel),
        "type": _media_type(asset["file"]),
        "title": _asset_title(asset, record["index"]),
        "roles": ROLES[asset["kind"]],
    }
    if asset["mask"] and asset["kind"] == "masked":
        out["sen2chain:mask"] = asset["mask"]
    if asset["shape"] != record["shape"] or asset["transform"] != record["transform"]:
        out["proj:shape"] = asset["shape"]
        out["proj:transform"] = asset["transform"]
    out["file:size"] = asset["size"]
    if asset["checksum"]:
        out["file:checksum"] = asset["checksum"]
    out["raster:bands"] = _raster_bands(asset, definition)
    return out


def item_dict(record: dict[str, Any], config: dict[str, Any], indices_rel: str) -> dict[str, Any]:
    """The STAC item of a record. ``indices_rel``: the INDICES root relative to the catalogue root."""
    index, tile_name = record["index"], record["tile"]
    tile = parse_tile(tile_name)
    item_file = Layout.item(index, tile_name, record["item_id"])
    root_href = config.get("root_href")
    props: dict[str, Any] = {
        "datetime": record["datetime"],
        "created": record["created"],
        "updated": record["updated"],
        "platform": record["platform"],
        "constellation": C.CONSTELLATION,
        "instruments": C.INSTRUMENTS,
        "proj:code": f"EPSG:{record['epsg']}",
        "proj:shape": record["shape"],
        "proj:transform": record["transform"],
        "proj:bbox": record["proj_bbox"],
        "grid:code": f"MGRS-{tile_name}",
        "mgrs:utm_zone": tile.utm_zone,
        "mgrs:latitude_band": tile.latitude_band,
        "mgrs:grid_square": tile.grid_square,
        "sat:relative_orbit": record["relative_orbit"],
        "sat:orbit_state": "descending",
        "processing:level": C.PROCESSING_LEVEL,
        "processing:version": record["processing_version"],
    }
    if record["software"]:
        props["processing:software"] = record["software"]
    if record["cloud_cover"] is not None:
        props["eo:cloud_cover"] = record["cloud_cover"]
    props.update({
        "sen2chain:index": index,
        "sen2chain:tile": tile_name,
        "sen2chain:product_id": record["product_id"],
        "sen2chain:masks": record["masks"],
    })
    assets = {a["key"]: asset_dict(record, a, item_file, config, indices_rel) for a in record["assets"]}
    if record.get("thumbnail"):
        assets["thumbnail"] = {
            "href": href(item_file, Layout.thumbnail(index, tile_name, record["item_id"]), None),
            "type": "image/png",
            "title": "Thumbnail",
            "roles": ["thumbnail"],
        }
    collection = Layout.collection(index)
    return {
        "type": "Feature",
        "stac_version": C.STAC_VERSION,
        "stac_extensions": C.ITEM_EXTENSIONS,
        "id": record["item_id"],
        "geometry": record["geometry"],
        "bbox": record["bbox"],
        "properties": props,
        "links": _links(
            item_file, root_href,
            ("root", C.CATALOG_FILE, "application/json", None),
            ("parent", collection, "application/json", None),
            ("collection", collection, "application/json", None),
        ),
        "assets": assets,
        "collection": Layout.collection_id(index),
    }


def _union_bbox(bboxes: list[list[float]]) -> list[float]:
    crossing = [b for b in bboxes if b[0] > b[2]]
    if crossing:  # antimeridian: keep west > east
        west = min(b[0] for b in bboxes if b[0] > 0)
        east = max(b[2] for b in bboxes if b[2] < 0 or b[0] > b[2])
        return [west, min(b[1] for b in bboxes), east, max(b[3] for b in bboxes)]
    return [min(b[0] for b in bboxes), min(b[1] for b in bboxes), max(b[2] for b in bboxes), max(b[3] for b in bboxes)]


def _item_assets(records: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for record in records:
        definition = index_definition(record["index"])
        for a in record["assets"]:
            if a["key"] not in out:
                out[a["key"]] = {
                    "type": _media_type(a["file"]),
                    "title": _asset_title(a, record["index"]),
                    "roles": ROLES[a["kind"]],
                }
                if a["kind"] != "quicklook" and definition.get("scale") is not None:
                    out[a["key"]]["raster:bands"] = [{"scale": definition["scale"], "offset": definition.get("offset") or 0.0,
                                                      "data_type": a["dtypes"][0]}]
        if record.get("thumbnail") and "thumbnail" not in out:
            out["thumbnail"] = {"type": "image/png", "title": "Thumbnail", "roles": ["thumbnail"]}
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "index", not kv[0].startswith("masked"), kv[0])))


def _providers(config: dict[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    providers = list(base["providers"])
    org = config["organisation"]
    providers.append({k: v for k, v in {"name": org["name"], "roles": org["roles"], "url": org.get("url")}.items() if v})
    return providers


def collection_dict(index: str, records: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """The collection of ``index`` from all its item records (sorted by item id)."""
    definition = index_definition(index)
    base = load_json("collection.json")
    coll_file = Layout.collection(index)
    root_href = config.get("root_href")
    datetimes = sorted(r["datetime"] for r in records)
    description = definition["description"]
    if definition.get("formula"):
        description += f"\n\nFormula (Sentinel-2 bands): `{definition['formula']}`."
    description += "\n\n" + base["lineage"]
    clouds = [r["cloud_cover"] for r in records if r["cloud_cover"] is not None]
    summaries: dict[str, Any] = {
        "platform": sorted({r["platform"] for r in records}),
        "constellation": [C.CONSTELLATION],
        "instruments": C.INSTRUMENTS,
        "grid:code": sorted({f"MGRS-{r['tile']}" for r in records}),
        "proj:code": sorted({f"EPSG:{r['epsg']}" for r in records}),
        "sat:relative_orbit": sorted({r["relative_orbit"] for r in records}),
        "sen2chain:masks": sorted({m for r in records for m in r["masks"]}),
    }
    summaries = {k: v for k, v in summaries.items() if v}
    if clouds:
        summaries["eo:cloud_cover"] = {"minimum": min(clouds), "maximum": max(clouds)}
    extensions = list(C.COLLECTION_EXTENSIONS)
    out: dict[str, Any] = {
        "type": "Collection",
        "stac_version": C.STAC_VERSION,
        "stac_extensions": extensions,
        "id": Layout.collection_id(index),
        "title": definition["title"],
        "description": description,
        "keywords": definition["keywords"] + [k for k in base["keywords"] if k not in definition["keywords"]],
        "license": config["license"],
        "providers": _providers(config, base),
        "extent": {
            "spatial": {"bbox": [_union_bbox([r["bbox"] for r in records])]},
            "temporal": {"interval": [[datetimes[0], datetimes[-1]]]},
        },
        "summaries": summaries,
        "item_assets": _item_assets(records),
        "sen2chain:index": index,
    }
    if definition.get("formula"):
        out["sen2chain:formula"] = definition["formula"]
        out["sen2chain:bands"] = definition["bands"]
    doi = (config.get("doi") or {}).get(index)
    if doi:
        out["stac_extensions"] = extensions + [C.SCIENTIFIC]
        out["sci:doi"] = doi
    out["links"] = _links(
        coll_file, root_href,
        ("root", C.CATALOG_FILE, "application/json", config["catalog"]["title"]),
        ("parent", C.CATALOG_FILE, "application/json", config["catalog"]["title"]),
        *[("item", Layout.item(index, r["tile"], r["item_id"]), "application/geo+json", None) for r in records],
    )
    out["links"].insert(2, {"rel": "license", "href": f"https://spdx.org/licenses/{config['license']}.html",
                            "type": "text/html", "title": config["license"]})
    return out


def catalog_dict(collections: list[tuple[str, str]], config: dict[str, Any]) -> dict[str, Any]:
    """The root catalog linking every collection, given as ``(path relative to the root, title)``."""
    cat = config["catalog"]
    links = _links(
        C.CATALOG_FILE, config.get("root_href"),
        ("root", C.CATALOG_FILE, "application/json", cat["title"]),
        *[("child", path, "application/json", title) for path, title in collections],
    )
    return {
        "type": "Catalog",
        "stac_version": C.STAC_VERSION,
        "id": cat["id"],
        "title": cat["title"],
        "description": cat["description"] + f"\n\nIndexed by sen2val-stac {__version__}.",
        "links": links,
    }
