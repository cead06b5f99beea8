"""Valid-data footprints: from a decimated validity mask to a simplified WGS84 GeoJSON geometry."""

from __future__ import annotations

import threading
from typing import Any

import antimeridian
import numpy as np
import shapely
import shapely.geometry.polygon
from affine import Affine
from pyproj import Transformer
from rasterio.features import shapes, sieve
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

# Vertices of footprints are rounded to this many decimals of a degree (~1 cm).
DECIMALS = 7
# Segments longer than this (metres) are densified before reprojection, so edges follow the true curve.
DENSIFY_M = 5000.0
METRES_PER_DEGREE = 111_320.0
# Connected groups smaller than 1/SIEVE_FRACTION of the sample are noise, not footprint.
SIEVE_FRACTION = 2000


class EmptyFootprint(ValueError):
    """The raster holds no valid pixel."""


def valid_polygon(valid: np.ndarray, transform: tuple[float, ...], min_pixels: int = 4) -> Polygon | MultiPolygon:
    """Outer boundary of the ``valid`` pixels in the raster CRS (holes and specks dropped)."""
    if not valid.any():
        raise EmptyFootprint("raster holds no valid pixel")
    t = Affine(*transform[:6])
    # A tile inside the swath (the common case): its outline, as tracing would give it. Samples smaller than
    # ``min_pixels`` still take the path below, which treats them as before.
    if valid.size >= min_pixels and valid.all():
        rows, cols = valid.shape
        return Polygon([t @ (0, 0), t @ (0, rows), t @ (cols, rows), t @ (cols, 0)])
    # Sieve specks of either class (lossy-compression noise at swath edges) before tracing.
    sieve_px = max(min_pixels, valid.size // SIEVE_FRACTION)
    valid = sieve(valid.astype(np.uint8), size=sieve_px, connectivity=8).astype(bool)
    if not valid.any():
        raise EmptyFootprint("raster holds only isolated valid pixels")
    pixel_area = abs(t.a * t.e - t.b * t.d)
    parts = []
    for geom, _ in shapes(valid.astype(np.uint8), mask=valid, transform=t, connectivity=8):
        poly = Polygon(geom["coordinates"][0])
        if poly.area >= min_pixels * pixel_area:
            parts.append(poly)
    if not parts:
        raise EmptyFootprint("raster holds only isolated valid pixels")
    merged = shapely.union_all(parts)
    if isinstance(merged, MultiPolygon):
        merged = MultiPolygon([Polygon(p.exterior) for p in merged.geoms])
    else:
        merged = Polygon(merged.exterior)
    return merged


def to_wgs84(geom: Polygon | MultiPolygon, epsg: int, simplify_m: float) -> dict[str, Any]:
    """Simplify in metres, densify, reproject to WGS84 and split at the antimeridian; GeoJSON mapping."""
    geom = geom.simplify(simplify_m, preserve_topology=True)
    geom = shapely.segmentize(geom, DENSIFY_M)
    transformer = _transformer(epsg)
    lonlat = shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    lonlat = shapely.geometry.polygon.orient(lonlat) if isinstance(lonlat, Polygon) else MultiPolygon(
        [shapely.geometry.polygon.orient(p) for p in lonlat.geoms])
    lonlat = _unwrap(lonlat)
    west, _, east, _ = lonlat.bounds
    fixed = shape(antimeridian.fix_shape(mapping(lonlat))) if west < -180 or east > 180 else lonlat
    # Drop the densified vertices that the reprojection left (nearly) collinear.
    fixed = fixed.simplify(simplify_m / 4 / METRES_PER_DEGREE, preserve_topology=True)
    rounded = shapely.set_precision(fixed, 10**-DECIMALS)
    if rounded.is_empty:
        raise EmptyFootprint("footprint vanished after simplification")
    return _orient(rounded)


def _unwrap(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Make longitudes continuous (a ring crossing 180° gets values past ±180) for antimeridian.fix_shape."""
    def unwrap_coords(xy: np.ndarray) -> np.ndarray:
        lon = np.degrees(np.unwrap(np.radians(xy[:, 0])))
        return np.column_stack([lon, xy[:, 1]])

    return shapely.transform(geom, unwrap_coords)


def _orient(geom: Any) -> dict[str, Any]:
    geom = shapely.orient_polygons(geom) if hasattr(shapely, "orient_polygons") else geom
    out: dict[str, Any] = mapping(geom)
    return out


# pyproj transformers are not thread-safe: one cache per thread (the indexer reads products in threads).
_LOCAL = threading.local()


def _transformer(epsg: int) -> Transformer:
    cache: dict[int, Transformer] | None = getattr(_LOCAL, "transformers", None)
    if cache is None:
        cache = _LOCAL.transformers = {}
    if epsg not in cache:
        cache[epsg] = Transformer.from_crs(epsg, 4326, always_xy=True)
    return cache[epsg]


def footprint(valid: np.ndarray, transform: tuple[float, ...], epsg: int, simplify_m: float) -> dict[str, Any]:
    """GeoJSON geometry (WGS84) of the valid pixels of a raster sample.

    The tolerance is at least one sample pixel, so pixel staircases along slanted swath edges
    collapse to straight lines.
    """
    pixel = max(abs(transform[0]), abs(transform[4]))
    return to_wgs84(valid_polygon(valid, transform), epsg, max(simplify_m, pixel))


def geometry_bbox(geometry: dict[str, Any]) -> list[float]:
    """``[west, south, east, north]`` of a GeoJSON geometry; west > east when it crosses the antimeridian."""
    geom = shape(geometry)
    if isinstance(geom, MultiPolygon) and _crosses_antimeridian(geom):
        west = min(p.bounds[0] for p in geom.geoms if p.bounds[0] > 0)
        east = max(p.bounds[2] for p in geom.geoms if p.bounds[2] < 0)
        return [round(west, DECIMALS), round(geom.bounds[1], DECIMALS), round(east, DECIMALS), round(geom.bounds[3], DECIMALS)]
    return [round(v, DECIMALS) for v in geom.bounds]


def _crosses_antimeridian(geom: MultiPolygon) -> bool:
    bounds = [p.bounds for p in geom.geoms]
    return any(b[2] >= 180 - 1e-9 for b in bounds) and any(b[0] <= -180 + 1e-9 for b in bounds)
