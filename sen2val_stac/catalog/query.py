"""Query the catalogue through its parquet index: filters by index, tile, time and bounding box."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

from sen2val_stac.catalog.parquet import ensure_parquet
from sen2val_stac.catalog.read import ItemRef, item_ref
from sen2val_stac.catalog.render import Layout
from sen2val_stac.catalog.sen2chain_extension import INDEX, TILE
from sen2val_stac.core.errors import InputError

COLUMNS = ["id", "collection", "datetime", INDEX, TILE, "eo:cloud_cover",
           "platform", "sat:relative_orbit", "assets", "bbox", "geometry"]


class QueryError(InputError):
    """A filter value is not understood."""


def parse_when(value: str | date | datetime | None, end: bool = False) -> datetime | None:
    """``2019-01-01`` or an RFC 3339 timestamp to an aware UTC datetime (a bare end date is inclusive)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        value = value.isoformat()
    try:
        if len(value) == 10:
            d = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
            return d.replace(hour=23, minute=59, second=59, microsecond=999999) if end else d
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"not a date: {value!r} (expected YYYY-MM-DD or an RFC 3339 timestamp)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_bbox(value: str | tuple[float, ...] | None) -> tuple[float, float, float, float] | None:
    """``W,S,E,N`` in degrees."""
    if value is None:
        return None
    try:
        parts = [float(v) for v in value.split(",")] if isinstance(value, str) else [float(v) for v in value]
    except ValueError as exc:
        raise QueryError(f"not a bounding box: {value!r} (expected W,S,E,N in degrees)") from exc
    if len(parts) != 4 or not (-90 <= parts[1] <= parts[3] <= 90):
        raise QueryError(f"not a bounding box: {value!r} (expected W,S,E,N with S <= N)")
    return parts[0], parts[1], parts[2], parts[3]


def query_frame(
    catalog_dir: str | os.PathLike[str],
    index: str | None = None,
    tile: str | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    bbox: str | tuple[float, ...] | None = None,
) -> gpd.GeoDataFrame:
    """Matching items, one row per item (stac-geoparquet columns), sorted by id."""
    path = ensure_parquet(catalog_dir)
    start_dt, end_dt, box_ = parse_when(start), parse_when(end, end=True), parse_bbox(bbox)
    if not path.exists():
        return gpd.GeoDataFrame(columns=COLUMNS, geometry="geometry", crs="EPSG:4326")
    frame = gpd.read_parquet(path)
    keep = pd.Series(True, index=frame.index)
    if index:
        keep &= frame[INDEX].str.upper() == index.upper()
    if tile:
        keep &= frame[TILE].str.upper() == tile.upper()
    if start_dt:
        keep &= frame["datetime"] >= pd.Timestamp(start_dt)
    if end_dt:
        keep &= frame["datetime"] <= pd.Timestamp(end_dt)
    if box_:
        w, s, e, n = box_
        query_geom = box(w, s, e, n) if w <= e else box(w, s, 180, n).union(box(-180, s, e, n))
        keep &= frame.geometry.intersects(query_geom)
    return frame[keep].sort_values("id").reset_index(drop=True)


def query_items(catalog_dir: str | os.PathLike[str], **filters: Any) -> list[ItemRef]:
    """Matching items as :class:`ItemRef` (filtered on the parquet index, read from the JSON)."""
    frame = query_frame(catalog_dir, **filters)
    refs = []
    for item_id, index, tile in zip(frame["id"], frame[INDEX], frame[TILE], strict=True):
        refs.append(item_ref(Path(catalog_dir) / Layout.item(index, tile, item_id)))
    return refs
