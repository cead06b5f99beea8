"""Parse Sen2Chain names: L2A product ids, index raster file names, MGRS tiles, cloud-mask suffixes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

PRODUCT_ID_RE = re.compile(
    r"^(?P<satellite>S2[A-D])_MSI(?P<level>L[12][AC])_(?P<sensing>\d{8}T\d{6})_N(?P<baseline>\d{4})"
    r"_R(?P<orbit>\d{3})_T(?P<tile>\d{2}[C-X][A-Z]{2})_(?P<discriminator>\d{8}T\d{6})$"
)
TILE_RE = re.compile(r"^(?P<zone>\d{2})(?P<band>[C-HJ-NP-X])(?P<square>[A-HJ-NP-Z][A-HJ-NP-V])$")
MASK_RE = re.compile(r"^(?:CM\d{3}(?:-[A-Z]+\d+)*|OCM_v\d+(?:_\d+)*)$")
INDEX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

RASTER_EXTENSIONS = (".jp2", ".tif", ".tiff")
# Legacy suffixes of older Sen2Chain trees.
LEGACY_MASKED = "MASKED"
LEGACY_QUICKLOOK = "QUICKLOOK"
DEFAULT_MASK = "CM001"


class InvalidName(ValueError):
    """A file or folder name does not follow Sen2Chain's conventions."""


@dataclass(frozen=True)
class ProductId:
    """The parts of a Sentinel-2 L2A product id."""

    product_id: str
    satellite: str
    level: str
    sensing: datetime
    baseline: str
    relative_orbit: int
    tile: str
    discriminator: str

    @property
    def platform(self) -> str:
        """STAC ``platform``: ``sentinel-2a``, ``sentinel-2b`` ..."""
        return "sentinel-2" + self.satellite[-1].lower()

    @property
    def processing_version(self) -> str:
        """Processing baseline as ``02.01`` (``N0201``)."""
        return f"{self.baseline[:2]}.{self.baseline[2:]}"


def parse_product_id(name: str) -> ProductId:
    """Parse a product id such as ``S2A_MSIL2A_20160417T063512_N0201_R134_T40KCB_20160417T063510``.

    The acquisition time is the FIRST ``YYYYMMDDTHHMMSS`` (sensing start), never the discriminator.
    """
    m = PRODUCT_ID_RE.match(name)
    if not m:
        raise InvalidName(f"not a Sentinel-2 product id: {name!r}")
    sensing = datetime.strptime(m["sensing"], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    return ProductId(
        product_id=name,
        satellite=m["satellite"],
        level=m["level"],
        sensing=sensing,
        baseline=m["baseline"],
        relative_orbit=int(m["orbit"]),
        tile=m["tile"],
        discriminator=m["discriminator"],
    )


@dataclass(frozen=True)
class Tile:
    """An MGRS tile such as ``40KCB``."""

    name: str
    utm_zone: int
    latitude_band: str
    grid_square: str

    @property
    def south(self) -> bool:
        """True for latitude bands C to M (southern hemisphere)."""
        return self.latitude_band < "N"

    @property
    def epsg(self) -> int:
        """The WGS 84 / UTM EPSG code of the tile (32740 for 40KCB)."""
        return (32700 if self.south else 32600) + self.utm_zone


def parse_tile(name: str) -> Tile:
    """Parse an MGRS tile name (``40KCB``)."""
    m = TILE_RE.match(name)
    if not m or not 1 <= int(m["zone"]) <= 60:
        raise InvalidName(f"not an MGRS tile name: {name!r}")
    return Tile(name, int(m["zone"]), m["band"], m["square"])


@dataclass(frozen=True)
class RasterName:
    """What a raster file of a product folder holds.

    ``kind`` is ``index`` (raw), ``masked`` or ``quicklook``; ``mask`` is the cloud-mask version
    (``CM001``, ``CM003-PRB1-ITER5``, ...) for masked rasters and quicklooks.
    """

    filename: str
    kind: str
    mask: str | None


def parse_raster_name(filename: str, product_id: str, index: str) -> RasterName:
    """Classify ``filename`` found in the folder of ``product_id`` for ``index``.

    Raises :class:`InvalidName` with the reason when the name is not one Sen2Chain writes.
    """
    stem, dot, ext = filename.rpartition(".")
    ext = "." + ext.lower()
    if not dot or ext not in RASTER_EXTENSIONS:
        raise InvalidName(f"not a raster file name (expected {', '.join(RASTER_EXTENSIONS)})")
    prefix = f"{product_id}_{index}"
    if stem == prefix:
        return RasterName(filename, "index", None)
    if not stem.startswith(prefix + "_"):
        raise InvalidName(f"name does not start with '{prefix}_'")
    rest = stem[len(prefix) + 1 :]
    if rest == LEGACY_MASKED:
        return RasterName(filename, "masked", DEFAULT_MASK)
    if rest == LEGACY_QUICKLOOK:
        return RasterName(filename, "quicklook", DEFAULT_MASK)
    kind = "masked"
    if rest.endswith("_QL"):
        kind, rest = "quicklook", rest[:-3]
    if not MASK_RE.match(rest):
        raise InvalidName(f"unknown suffix '{rest}' (not a Sen2Chain cloud-mask version)")
    return RasterName(filename, kind, rest)


def item_id(index: str, tile: str, sensing: datetime) -> str:
    """STAC item id ``<INDEX>_<TILE>_<YYYYMMDD>``."""
    return f"{index}_{tile}_{sensing:%Y%m%d}"


def asset_key(kind: str, mask: str | None, default_quicklook: bool = False) -> str:
    """Asset key: ``index``, ``masked-cm001``, ``quicklook`` (default mask) or ``quicklook-<mask>``."""
    if kind == "index":
        return "index"
    if kind == "quicklook" and default_quicklook:
        return "quicklook"
    return f"{kind}-{mask.lower().replace('_', '-')}"  # type: ignore[union-attr]
