"""Facts about each published dataset (an index × tile series, or a whole index), from STAC queries.

Shared by the geoflow tables and the native ISO 19115 / Dublin Core records so both say the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import shape

from sen2val_stac import __version__
from sen2val_stac.catalog.query import query_frame
from sen2val_stac.catalog.read import ItemRef, href_path, item_ref, read_json
from sen2val_stac.catalog.render import Layout
from sen2val_stac.catalog.sen2chain_fields import INDEX, MASKS, TILE
from sen2val_stac.core import constants as C
from sen2val_stac.core.templates import index_definition, load_json
from sen2val_stac.derive.identity import doi, md_link, series_identifier

WKT_DECIMALS = 4


@dataclass
class DatasetInfo:
    """One dataset to describe: identifier, text, extents, links."""

    identifier: str
    index: str
    tiles: list[str]
    title: str
    abstract: str
    keywords: list[str]
    places: list[str]
    first: date
    last: date
    start: datetime  # first item's instant (UTC)
    end: datetime  # last item's instant (UTC)
    n_dates: int
    geometry: Any
    created: date
    updated: date
    masks: list[str]
    resolution: float
    shape: tuple[int, int]  # rows, columns of the newest item's grid
    crs: list[str]
    software: dict[str, str]
    doi: str
    md_link: str
    collection_keywords: list[str] = field(default_factory=list)  # the STAC collection's keywords
    providers: list[dict[str, Any]] = field(default_factory=list)  # STAC providers other than the organisation
    links: dict[str, str] = field(default_factory=dict)  # name -> http(s) URL (collection, latest item, thumbnail)
    netcdf: list[tuple[str, str]] = field(default_factory=list)  # (file name, http(s) URL) of published cubes
    local: list[str] = field(default_factory=list)  # plain paths of the data: NetCDF cubes, else the collection

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """West, south, east, north."""
        west, south, east, north = (round(float(v), WKT_DECIMALS) for v in self.geometry.bounds)
        return west, south, east, north

    @property
    def wkt(self) -> str:
        """Footprint as WKT (4 decimals, simplified)."""
        simple = self.geometry.simplify(10**-WKT_DECIMALS * 5, preserve_topology=True)
        return str(shapely.set_precision(simple, 10**-WKT_DECIMALS).wkt)


def public_url(catalog_dir: Path, path: Path | str, config: dict[str, Any]) -> str:
    """URL of a file of the catalogue under ``root_href``; '' when the catalogue is self-contained.

    Only http(s) URLs are published: geoflow sends an HTTP HEAD to every link, and a ``file://`` URL
    means nothing to a reader of the record elsewhere.
    """
    root = config.get("root_href")
    if not root:
        return ""
    return str(root).rstrip("/") + "/" + Path(path).resolve().relative_to(catalog_dir.resolve()).as_posix()


def is_url(href: str) -> bool:
    """An http(s) URL (the only links the records carry)."""
    return href.startswith(("http://", "https://"))


def _cubes(catalog_dir: Path) -> list[ItemRef]:
    folder = catalog_dir / "cubes"
    if not (folder / C.COLLECTION_FILE).exists():
        return []
    return [item_ref(p) for p in sorted(folder.glob("*.json")) if p.name != C.COLLECTION_FILE]


def _asset_url(catalog_dir: Path, item_file: Path, href: str, config: dict[str, Any]) -> str:
    """http(s) URL of an asset; '' when it is only a local file."""
    target = href_path(item_file, href)
    if target is None:
        return href if is_url(href) else ""
    try:
        return public_url(catalog_dir, target, config)
    except ValueError:  # outside the catalogue (e.g. cubes not under href_base): a local file only
        return ""


def _asset_path(item_file: Path, href: str) -> str:
    path = href_path(item_file, href)
    return "" if path is None else str(path)


def _collection(catalog_dir: Path, index: str) -> dict[str, Any]:
    path = catalog_dir / Layout.collection(index)
    return read_json(path) if path.exists() else {}


def _info(frame: gpd.GeoDataFrame, identifier: str, index: str, catalog_dir: Path, config: dict[str, Any],
          cubes: list[ItemRef], tile: str | None) -> DatasetInfo:
    text = load_json("metadata/text.json")
    places = load_json("metadata/places.json")
    definition = index_definition(index)
    frame = frame.sort_values("datetime")
    tiles = sorted(frame[TILE].unique())
    first, last = frame["datetime"].min().date(), frame["datetime"].max().date()
    masks = sorted({m for ms in frame[MASKS] for m in ms})
    latest = frame.iloc[-1]
    band = latest["assets"]["index"]["raster:bands"][0]
    software: dict[str, str] = {}
    for sw in frame["processing:software"]:
        if isinstance(sw, dict):
            software.update({k: v for k, v in sw.items() if v})
    fmt = dict(index=index, index_title=definition["title"], tile=tile or "", first=first, last=last, n=len(frame),
               description=definition["description"], masks=", ".join(masks) or "none",
               resolution=f"{band['spatial_resolution']:g}", crs=", ".join(sorted(frame["proj:code"].unique())),
               n_tiles=len(tiles), tiles=", ".join(tiles))
    title = text["series_title" if tile else "index_title"].format(**fmt)
    abstract = text["series_abstract" if tile else "index_abstract"].format(**fmt)
    place_names = sorted({p for t in tiles for p in places.get(t, places["_default"])})
    latest_file = catalog_dir / Layout.item(index, latest[TILE], latest["id"])
    links = {"STAC collection": public_url(catalog_dir, catalog_dir / Layout.collection(index), config),
             "STAC item": public_url(catalog_dir, latest_file, config)}
    if latest["assets"].get("thumbnail"):
        links["thumbnail"] = _asset_url(catalog_dir, latest_file, latest["assets"]["thumbnail"]["href"], config)
    netcdf, cube_paths = [], []
    for cube in cubes:
        props = cube.item["properties"]
        if props.get(INDEX) == index and (tile is None or props.get(TILE) == tile):
            href = cube.item["assets"]["netcdf"]["href"]
            url = _asset_url(catalog_dir, cube.path, href, config)
            if url:
                netcdf.append((os.path.basename(href), url))
            if _asset_path(cube.path, href):
                cube_paths.append(_asset_path(cube.path, href))
    collection = _collection(catalog_dir, index)
    own = config["organisation"]["name"]
    key_tile = tile if tile else None
    return DatasetInfo(
        identifier=identifier, index=index, tiles=tiles, title=title, abstract=abstract,
        keywords=definition["keywords"], places=place_names, first=first, last=last,
        start=frame["datetime"].min().to_pydatetime(), end=frame["datetime"].max().to_pydatetime(),
        n_dates=len(frame),
        geometry=shapely.union_all([shape(g.__geo_interface__) for g in frame.geometry]),
        created=frame["created"].min().date(), updated=frame["updated"].max().date(), masks=masks,
        resolution=float(band["spatial_resolution"]), shape=(int(latest["proj:shape"][0]), int(latest["proj:shape"][1])),
        crs=sorted(frame["proj:code"].unique()),
        software=software, doi=doi(config, index, key_tile), md_link=md_link(config, index, tile) if tile else "",
        collection_keywords=list(collection.get("keywords", [])),
        providers=[p for p in collection.get("providers", []) if p.get("name") != own],
        links={k: v for k, v in links.items() if v}, netcdf=netcdf,
        local=cube_paths or [str(catalog_dir / Layout.collection(index))],
    )


def datasets(catalog_dir: str | os.PathLike[str], config: dict[str, Any], per_index: bool = True) -> list[DatasetInfo]:
    """One entry per index × tile series (and per index when ``per_index``), ordered by identifier."""
    catalog_dir = Path(catalog_dir).resolve()
    frame = query_frame(catalog_dir)
    cubes = _cubes(catalog_dir)
    out = []
    for (index, tile), group in frame.groupby([INDEX, TILE], sort=True):
        out.append(_info(group, series_identifier(index, tile), index, catalog_dir, config, cubes, tile))
    if per_index:
        for index, group in frame.groupby(INDEX, sort=True):
            out.append(_info(group, f"data_{index}_SEN2CHAIN", index, catalog_dir, config, cubes, None))
    return sorted(out, key=lambda d: d.identifier)


def software_versions(info: DatasetInfo) -> dict[str, str]:
    """Versions for lineage text (``unknown`` where the sidecars did not say)."""
    return {"sen2cor": info.software.get("sen2cor", "(version unknown)"),
            "sen2chain": info.software.get("sen2chain", "(version unknown)"), "version": __version__}
