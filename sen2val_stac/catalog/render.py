"""Render the STAC objects (items, collections, the root catalog) of indexer records, with pystac.

Pure functions of (record, configuration, templates): no raster is read here, so the whole
catalogue can be re-rendered after a configuration change in seconds. Objects are built with
pystac and its extension classes (plus our own :mod:`~sen2val_stac.catalog.sen2chain_extension`);
the ``*_dict`` functions return ``to_dict(transform_hrefs=False)`` for the project's atomic JSON
writer, so the hrefs written are exactly the ones computed here (pystac never rewrites them).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pystac
from pystac.extensions.eo import EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.grid import GridExtension
from pystac.extensions.mgrs import MgrsExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension, Statistics
from pystac.extensions.sat import RELATIVE_ORBIT_PROP, OrbitState, SatExtension
from pystac.extensions.scientific import ScientificExtension

from sen2val_stac import __version__
from sen2val_stac.catalog.sen2chain_extension import Sen2ChainExtension
from sen2val_stac.core import constants as C
from sen2val_stac.core import media_types
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


LinkSpec = tuple[str, str, str, "str | None"]
"""``(rel, target, media type, title)``: a file relative to the catalogue root, or an external URL."""


def _set_links(obj: pystac.STACObject, from_file: str, root_href: str | None, *links: LinkSpec) -> None:
    """Give ``obj`` exactly these links, plus ``self`` when publishing under ``root_href``.

    Catalogue files are linked with :func:`href`; external URLs (``https://...``) stay as they are.

    pystac's automatic root link of a new Catalog/Collection (to the object itself, href unknown) goes.
    """
    obj.clear_links()
    for rel, target, media, title in links:
        target_href = target if "://" in target else href(from_file, target, root_href)
        obj.add_link(pystac.Link(rel, target_href, media, title))
    if root_href:
        obj.add_link(pystac.Link("self", href(from_file, from_file, root_href), media_types.JSON))


def _datetime(value: str) -> datetime:
    """A record timestamp (``2022-01-04T06:36:11Z``) as an aware datetime; pystac writes it back unchanged."""
    return datetime.fromisoformat(value)


def _asset_title(asset: dict[str, Any], index: str) -> str:
    if asset["kind"] == "index":
        return f"{index} (raw, not cloud-masked)"
    if asset["kind"] == "masked":
        return f"{index} cloud-masked with {asset['mask']}"
    return f"{index} quicklook ({asset['mask']} cloud mask)"


def tree_path(record: Mapping[str, Any], filename: str) -> str:
    """Path of a file of ``record``'s product inside the tree: ``NDVI/40KCB/<product>/<filename>``.

    Records keep the absolute folder they were read from; this path stays right when the tree moves.
    """
    return f"{record['index']}/{record['tile']}/{posixpath.basename(record['folder'])}/{filename}"


def asset_href(record: Mapping[str, Any], filename: str, item_file: str, config: dict[str, Any], indices_rel: str) -> str:
    """Href of a source raster: under ``asset_href_base`` when set, else relative to the item file."""
    tail = tree_path(record, filename)
    base = config.get("asset_href_base")
    if base:
        return str(base).rstrip("/") + "/" + tail
    # Pure string arithmetic (never relpath on relative paths, which depends on the working directory).
    up = "../" * posixpath.dirname(item_file).count("/") + "../"
    return posixpath.normpath(up + posixpath.join(indices_rel, tail))


def _scaled(asset: dict[str, Any], definition: dict[str, Any]) -> bool:
    """Whether the asset carries the index's scaled values (quicklooks are RGB renderings)."""
    return asset["kind"] != "quicklook" and definition.get("scale") is not None


def _raster_bands(asset: dict[str, Any], definition: dict[str, Any]) -> list[RasterBand]:
    bands = []
    nodata = asset["nodata"]
    if nodata is not None and float(nodata).is_integer():
        nodata = int(nodata)
    for dtype, stats in zip(asset["dtypes"], asset["stats"], strict=True):
        band = RasterBand.create(data_type=DataType(dtype), spatial_resolution=asset["resolution"], nodata=nodata,
                                 statistics=Statistics.create(**stats))
        if _scaled(asset, definition):
            band.scale = definition["scale"]
            band.offset = definition.get("offset") or 0.0
        if asset["kind"] != "quicklook" and definition.get("unit"):
            band.unit = definition["unit"]
        bands.append(band)
    return bands


def raster_asset(record: Mapping[str, Any], asset: dict[str, Any], definition: dict[str, Any], item_file: str,
                 config: dict[str, Any], indices_rel: str) -> pystac.Asset:
    """One raster asset of ``record``, for the item at ``item_file``.

    Built before it has an owner, so the extension classes only write fields here; the item declares
    the asset extensions once (:data:`ASSET_EXTENSIONS`), instead of a lookup per asset and field.
    """
    out = pystac.Asset(
        href=asset_href(record, asset["file"], item_file, config, indices_rel),
        media_type=media_types.of_file(asset["file"]),
        title=_asset_title(asset, record["index"]),
        roles=list(ROLES[asset["kind"]]),
    )
    if asset["mask"] and asset["kind"] == "masked":
        Sen2ChainExtension.ext(out).mask = asset["mask"]
    if asset["shape"] != record["shape"] or asset["transform"] != record["transform"]:
        proj = ProjectionExtension.ext(out)
        proj.shape = asset["shape"]
        proj.transform = asset["transform"]
    file = FileExtension.ext(out)
    file.size = asset["size"]
    file.checksum = asset["checksum"]
    RasterExtension.ext(out).bands = _raster_bands(asset, definition)
    return out


ASSET_EXTENSIONS = (FileExtension, RasterExtension)
"""Extensions every raster asset uses (projection and sen2chain are declared by the item's own fields)."""


def _set_processing(item: pystac.Item, record: Mapping[str, Any]) -> None:
    """Processing extension fields (pystac has no class for this extension)."""
    item.properties["processing:level"] = C.PROCESSING_LEVEL
    item.properties["processing:version"] = record["processing_version"]
    if record["software"]:
        item.properties["processing:software"] = record["software"]
    if C.PROCESSING not in item.stac_extensions:
        item.stac_extensions.append(C.PROCESSING)


def cog_assets(record: Mapping[str, Any], config: dict[str, Any], indices_rel: str) -> dict[str, dict[str, Any]]:
    """The COG assets of an indexer record (from its ``cog`` entry, written by :func:`sen2val_stac.derive.cog.write_cogs`), as STAC dicts."""
    written = record.get("cog") or {}
    sources = {a["key"]: a for a in record["assets"]}
    item_file = Layout.item(record["index"], record["tile"], record["item_id"])
    folder = posixpath.dirname(item_file)
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(written, key=lambda k: (k != "visual", k)):
        cog = written[key]
        source = sources.get(cog["source"])
        if source is None:
            continue
        original = asset_href(record, source["file"], item_file, config, indices_rel)
        asset: dict[str, Any] = {
            "href": href(item_file, f"{folder}/{cog['file']}", config.get("root_href")),
            "type": media_types.COG,
            "title": cog["title"],
            "roles": ["overview", "visual"] if key == "visual" else ["data"],
            "file:size": cog["size"], "file:checksum": cog["checksum"],
            "proj:code": f"EPSG:{cog['epsg']}", "proj:shape": cog["shape"], "proj:transform": cog["transform"],
            "alternate": {"original": {"href": original, "type": media_types.of_file(source["file"]),
                                       "title": f"original ({posixpath.splitext(source['file'])[1][1:].upper()})"}},
        }
        if cog.get("bands"):
            asset["raster:bands"] = cog["bands"]
        out[key] = asset
    return out


def build_item(record: Mapping[str, Any], config: dict[str, Any], indices_rel: str) -> pystac.Item:
    """The STAC item of a record. ``indices_rel``: the INDICES root relative to the catalogue root."""
    index, tile_name = record["index"], record["tile"]
    tile = parse_tile(tile_name)
    item_file = Layout.item(index, tile_name, record["item_id"])
    item = pystac.Item(
        id=record["item_id"],
        geometry=record["geometry"],
        bbox=record["bbox"],
        datetime=_datetime(record["datetime"]),
        properties={"datetime": record["datetime"]},  # first in the properties; to_dict() rewrites the same value
        collection=Layout.collection_id(index),
    )
    common = item.common_metadata
    common.created = _datetime(record["created"])
    common.updated = _datetime(record["updated"])
    common.platform = record["platform"]
    common.constellation = C.CONSTELLATION
    common.instruments = list(C.INSTRUMENTS)
    ProjectionExtension.ext(item, add_if_missing=True).apply(
        code=f"EPSG:{record['epsg']}", shape=record["shape"], transform=record["transform"], bbox=record["proj_bbox"])
    GridExtension.ext(item, add_if_missing=True).code = f"MGRS-{tile_name}"
    MgrsExtension.ext(item, add_if_missing=True).apply(tile.latitude_band, tile.grid_square, tile.utm_zone)
    sat = SatExtension.ext(item, add_if_missing=True)
    sat.relative_orbit = record["relative_orbit"]
    sat.orbit_state = OrbitState.DESCENDING
    _set_processing(item, record)
    if record["cloud_cover"] is not None:
        EOExtension.ext(item, add_if_missing=True).cloud_cover = record["cloud_cover"]
    s2c = Sen2ChainExtension.ext(item, add_if_missing=True)
    s2c.index = index
    s2c.tile = tile_name
    s2c.product_id = record["product_id"]
    s2c.masks = list(record["masks"])
    definition = index_definition(index)
    for asset in record["assets"]:
        item.add_asset(asset["key"], raster_asset(record, asset, definition, item_file, config, indices_rel))
    if record["assets"]:
        for extension in ASSET_EXTENSIONS:
            extension.add_to(item)
    if record["thumbnail"]:
        item.add_asset("thumbnail", pystac.Asset(
            href=href(item_file, Layout.thumbnail(index, tile_name, record["item_id"]), None),
            media_type=pystac.MediaType.PNG, title="Thumbnail", roles=["thumbnail"]))
    for key, cog in cog_assets(record, config, indices_rel).items():  # COG views written by `cog` (derive/cog.py)
        item.add_asset(key, pystac.Asset.from_dict(cog))
    collection = Layout.collection(index)
    _set_links(
        item, item_file, config.get("root_href"),
        ("root", C.CATALOG_FILE, media_types.JSON, config["catalog"]["title"]),  # titled as the collections' links
        ("parent", collection, media_types.JSON, definition["title"]),
        ("collection", collection, media_types.JSON, definition["title"]),
    )
    item.stac_extensions.sort()
    return item


def item_dict(record: Mapping[str, Any], config: dict[str, Any], indices_rel: str) -> dict[str, Any]:
    """The STAC item of a record as JSON-ready data (see :func:`build_item`)."""
    return build_item(record, config, indices_rel).to_dict(transform_hrefs=False)


def _asset_order(key: str) -> tuple[bool, bool, str]:
    return key != "index", not key.startswith("masked"), key


class CollectionFacts:
    """What a collection says of its items, gathered one record at a time (:meth:`add`).

    Memory: a few running values per collection, never the records nor the item links (written by
    :mod:`~sen2val_stac.catalog.collection_file`), so a collection of 100,000 items is summarised while the
    records stream past.
    """

    def __init__(self, index: str) -> None:
        self.index = index
        self.count = 0
        self.first: str | None = None
        self.last: str | None = None
        self._west = self._south = float("inf")
        self._east = self._north = float("-inf")
        self._crossing = False
        self._west_of_crossing = float("inf")  # with a bbox across the antimeridian: the western edge east of 0
        self._east_of_crossing = float("-inf")
        self.platforms: set[str] = set()
        self.tiles: set[str] = set()
        self.epsgs: set[int] = set()
        self.orbits: set[int] = set()
        self.masks: set[str] = set()
        self.cloud_range: tuple[float, float] | None = None
        self.assets: dict[str, dict[str, Any]] = {}  # asset key -> its first occurrence
        self.thumbnail = False

    @classmethod
    def of(cls, index: str, records: Iterable[Mapping[str, Any]] | CollectionFacts) -> CollectionFacts:
        """The facts of these records (sorted by item id); facts already gathered are returned as they are."""
        if isinstance(records, CollectionFacts):
            return records
        facts = cls(index)
        for record in records:
            facts.add(record)
        return facts

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one item record in."""
        self.count += 1
        when = record["datetime"]
        self.first = when if self.first is None or when < self.first else self.first
        self.last = when if self.last is None or when > self.last else self.last
        west, south, east, north = record["bbox"]
        self._west, self._south = min(self._west, west), min(self._south, south)
        self._east, self._north = max(self._east, east), max(self._north, north)
        self._crossing |= west > east
        if west > 0:
            self._west_of_crossing = min(self._west_of_crossing, west)
        if east < 0 or west > east:
            self._east_of_crossing = max(self._east_of_crossing, east)
        self.platforms.add(record["platform"])
        self.tiles.add(record["tile"])
        self.epsgs.add(record["epsg"])
        self.orbits.add(record["relative_orbit"])
        self.masks.update(record["masks"])
        cloud = record["cloud_cover"]
        if cloud is not None:
            low, high = self.cloud_range or (cloud, cloud)
            self.cloud_range = (min(low, cloud), max(high, cloud))
        for asset in record["assets"]:
            self.assets.setdefault(asset["key"], asset)
        self.thumbnail |= bool(record["thumbnail"])

    @property
    def bbox(self) -> list[float]:
        """The union of the items' bboxes; west > east when one crosses the antimeridian."""
        if self._crossing:
            return [self._west_of_crossing, self._south, self._east_of_crossing, self._north]
        return [self._west, self._south, self._east, self._north]


def _set_item_assets(coll: pystac.Collection, facts: CollectionFacts, definition: dict[str, Any]) -> None:
    """``item_assets``: every asset key found in the records (first occurrence describes it)."""
    found: dict[str, pystac.ItemAssetDefinition] = {}
    for key, a in facts.assets.items():
        found[key] = asset_def = pystac.ItemAssetDefinition.create(
            title=_asset_title(a, facts.index), description=None,
            media_type=media_types.of_file(a["file"]), roles=list(ROLES[a["kind"]]))
        asset_def.set_owner(coll)
        if _scaled(a, definition):
            RasterExtension.ext(asset_def, add_if_missing=True).bands = [RasterBand.create(
                scale=definition["scale"], offset=definition.get("offset") or 0.0, data_type=DataType(a["dtypes"][0]))]
    if facts.thumbnail:
        found["thumbnail"] = pystac.ItemAssetDefinition.create(
            title="Thumbnail", description=None, media_type=pystac.MediaType.PNG, roles=["thumbnail"])
    coll.item_assets = {key: found[key] for key in sorted(found, key=_asset_order)}


def _providers(config: dict[str, Any], base: dict[str, Any]) -> list[pystac.Provider]:
    org = config["organisation"]
    own = {k: v for k, v in {"name": org["name"], "roles": org["roles"], "url": org.get("url")}.items() if v}
    return [pystac.Provider.from_dict(p) for p in [*base["providers"], own]]


def _set_summaries(coll: pystac.Collection, facts: CollectionFacts) -> None:
    summaries = coll.summaries
    summaries.add("platform", sorted(facts.platforms))
    summaries.add("constellation", [C.CONSTELLATION])
    summaries.add("instruments", list(C.INSTRUMENTS))
    # The grid extension (v1.1.0) defines no collection fields: its codes are summarised undeclared.
    summaries.add("grid:code", sorted(f"MGRS-{tile}" for tile in facts.tiles))
    ProjectionExtension.summaries(coll, add_if_missing=True).code = sorted({f"EPSG:{e}" for e in facts.epsgs})
    # pystac types this summary as a range; the catalogue lists the distinct orbits (both are valid STAC).
    SatExtension.add_to(coll)
    summaries.add(RELATIVE_ORBIT_PROP, sorted(facts.orbits))
    if facts.masks:
        Sen2ChainExtension.summaries(coll, add_if_missing=True).masks = sorted(facts.masks)
    if facts.cloud_range:
        EOExtension.summaries(coll, add_if_missing=True).cloud_cover = pystac.RangeSummary(*facts.cloud_range)


def build_collection(index: str, records: Iterable[Mapping[str, Any]] | CollectionFacts,
                     config: dict[str, Any], item_links: Iterable[tuple[str, str]] = ()) -> pystac.Collection:
    """The collection of ``index`` from all its item records (sorted by item id), or their :class:`CollectionFacts`,
    linking the items of ``item_links`` (tile, item id), in that order."""
    facts = CollectionFacts.of(index, records)
    if not facts.count or facts.first is None or facts.last is None:
        raise ValueError(f"collection {index}: no item")
    definition = index_definition(index)
    base = load_json("collection.json")
    description = definition["description"]
    if definition.get("formula"):
        description += f"\n\nFormula (Sentinel-2 bands): `{definition['formula']}`."
    description += "\n\n" + base["lineage"]
    coll = pystac.Collection(
        id=Layout.collection_id(index),
        title=definition["title"],
        description=description,
        keywords=definition["keywords"] + [k for k in base["keywords"] if k not in definition["keywords"]],
        license=config["license"],
        providers=_providers(config, base),
        extent=pystac.Extent(
            pystac.SpatialExtent([facts.bbox]),
            pystac.TemporalExtent([[_datetime(facts.first), _datetime(facts.last)]]),
        ),
    )
    _set_summaries(coll, facts)
    _set_item_assets(coll, facts, definition)
    s2c = Sen2ChainExtension.ext(coll, add_if_missing=True)
    s2c.index = index
    if definition.get("formula"):
        s2c.formula = definition["formula"]
        s2c.bands = list(definition["bands"])
    catalog_title = config["catalog"]["title"]
    _set_links(
        coll, Layout.collection(index), config.get("root_href"),
        ("root", C.CATALOG_FILE, media_types.JSON, catalog_title),
        ("parent", C.CATALOG_FILE, media_types.JSON, catalog_title),
        ("license", f"https://spdx.org/licenses/{config['license']}.html", media_types.HTML, config["license"]),
        *[("item", Layout.item(index, tile, item_id), media_types.GEOJSON, None) for tile, item_id in item_links],
    )
    doi = (config.get("doi") or {}).get(index)
    if doi:  # also adds the extension's "cite-as" link to https://doi.org/<doi>
        ScientificExtension.ext(coll, add_if_missing=True).doi = doi
    coll.stac_extensions.sort()
    return coll


def build_catalog(collections: list[tuple[str, str]], config: dict[str, Any]) -> pystac.Catalog:
    """The root catalog linking every collection, given as ``(path relative to the root, title)``."""
    cat = config["catalog"]
    catalog = pystac.Catalog(
        id=cat["id"], title=cat["title"], description=cat["description"] + f"\n\nIndexed by sen2val-stac {__version__}.")
    _set_links(
        catalog, C.CATALOG_FILE, config.get("root_href"),
        ("root", C.CATALOG_FILE, media_types.JSON, cat["title"]),
        *[("child", path, media_types.JSON, title) for path, title in collections],
    )
    return catalog


def catalog_dict(collections: list[tuple[str, str]], config: dict[str, Any]) -> dict[str, Any]:
    """The root catalog as JSON-ready data (see :func:`build_catalog`)."""
    return build_catalog(collections, config).to_dict(transform_hrefs=False)
