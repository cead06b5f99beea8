"""Footprint layers for map viewers, derived from the catalogue's parquet index.

- ``footprints_all``: one feature per tile; per index the number of dates, first/last date,
  metadata link and DOI.
- ``footprints_<index>``: one feature per tile of that index.
- ``footprints_<index>_<tile>``: the series (one feature, union of footprints) then one feature
  per date with its valid-data footprint.

Incremental: each layer's content fingerprint is kept in ``OUT/.sen2val-layers.json``; a layer whose
fingerprint and files are unchanged is not rewritten, a layer that left the catalogue is removed, and
the staging folders of a killed run (``.tmp-layers-<pid>-*``) are removed by the next run.

Shapefile limits shape the attribute names (10 characters) and types (Date, no DateTime: times are
ISO strings; strings at most 254 characters: a longer value is an error, never truncated).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from sen2val_stac.catalog.query import query_frame
from sen2val_stac.catalog.read import href_path
from sen2val_stac.catalog.render import Layout
from sen2val_stac.catalog.sen2chain_extension import INDEX, TILE
from sen2val_stac.core.atomic import remove_leftovers, write_if_changed
from sen2val_stac.core.errors import InputError
from sen2val_stac.derive.formats import DRIVERS
from sen2val_stac.derive.identity import doi, md_link, series_identifier

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
STATE_FILE = ".sen2val-layers.json"
STAGING_PREFIX = ".tmp-layers-"
MAX_FIELD = 10
MAX_STRING = 254
# Per-index fields of footprints_all: <abbr><suffix>; the abbreviation leaves room for the longest suffix.
ALL_SUFFIXES = {"n": "", "first": "_f", "last": "_l", "md_link": "_md", "doi": "_doi"}


class LayerError(InputError):
    """A layer cannot be written faithfully (a name collision, a value too long for the format)."""


def index_abbreviations(indices: list[str]) -> dict[str, str]:
    """Field-name stems for each index in footprints_all: at most 6 characters, unique.

    ``NDVI`` stays ``NDVI``; ``NDWIGAO`` becomes ``NDWIGA``; on a collision the stem ends with a digit.
    """
    width = MAX_FIELD - max(len(s) for s in ALL_SUFFIXES.values())
    out: dict[str, str] = {}
    for index in sorted(indices):
        stem = index[:width]
        n = 1
        while stem in out.values():
            stem = index[: width - len(str(n))] + str(n)
            n += 1
        out[index] = stem
    return out


def _date_column(values: list[Any]) -> pd.Series:
    return pd.Series([v.date() if pd.notna(v) else None for v in values], dtype=pd.ArrowDtype(pa.date32()))


def _check_strings(frame: gpd.GeoDataFrame, layer: str, fmt: str) -> None:
    if fmt != "shp":
        return
    for column in frame.columns:
        if column == "geometry":
            continue
        if len(column) > MAX_FIELD:
            raise LayerError(f"{layer}: field name '{column}' is longer than {MAX_FIELD} characters")
        if frame[column].dtype == object:
            long = [v for v in frame[column] if isinstance(v, str) and len(v.encode()) > MAX_STRING]
            if long:
                raise LayerError(f"{layer}: field '{column}' holds a value of {len(long[0].encode())} bytes "
                                 f"(shapefiles keep {MAX_STRING}): {long[0][:60]}... use gpkg or shorter hrefs")


@dataclass
class LayerSet:
    """Every layer of the catalogue (name -> main file), and which were written, left unchanged or removed."""

    files: dict[str, Path]
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _union(geoms: Any) -> Any:
    return shapely.union_all(list(geoms))


def layer_all(frame: gpd.GeoDataFrame, config: dict[str, Any]) -> gpd.GeoDataFrame:
    """footprints_all: one feature per tile."""
    indices = sorted(frame[INDEX].unique())
    abbr = index_abbreviations(indices)
    rows = []
    for tile, group in frame.groupby(TILE, sort=True):
        row: dict[str, Any] = {"tile": tile, "geometry": _union(group.geometry)}
        for index in indices:
            sub = group[group[INDEX] == index]["datetime"]
            a = abbr[index]
            row[a] = len(sub)
            row[a + "_f"] = sub.min() if len(sub) else pd.NaT
            row[a + "_l"] = sub.max() if len(sub) else pd.NaT
            row[a + "_md"] = md_link(config, index, tile) if len(sub) else ""
            row[a + "_doi"] = doi(config, index, tile) if len(sub) else ""
        rows.append(row)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    for index in indices:
        a = abbr[index]
        out[a] = out[a].astype("int32")
        out[a + "_f"] = _date_column(list(out[a + "_f"]))
        out[a + "_l"] = _date_column(list(out[a + "_l"]))
    return out


def layer_index(frame: gpd.GeoDataFrame, index: str, config: dict[str, Any]) -> gpd.GeoDataFrame:
    """footprints_<index>: one feature per tile."""
    rows = []
    for tile, group in frame[frame[INDEX] == index].groupby(TILE, sort=True):
        rows.append({"index": index, "tile": tile, "n_dates": len(group), "first": group["datetime"].min(),
                     "last": group["datetime"].max(), "md_link": md_link(config, index, tile),
                     "doi": doi(config, index, tile), "geometry": _union(group.geometry)})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    out["n_dates"] = out["n_dates"].astype("int32")
    out["first"] = _date_column(list(out["first"]))
    out["last"] = _date_column(list(out["last"]))
    return out


def _mask_field(key: str) -> str:
    return key.removeprefix("masked-").replace("-", "_")[:MAX_FIELD]


def layer_series(group: gpd.GeoDataFrame, index: str, tile: str, href_of: Any) -> gpd.GeoDataFrame:
    """footprints_<index>_<tile>: the series feature, then one feature per date."""
    group = group.sort_values("datetime")
    masks = sorted({k for assets in group["assets"] for k, v in assets.items() if v and k.startswith("masked-")})
    fields = {k: _mask_field(k) for k in masks}
    if len(set(fields.values())) != len(fields):
        raise LayerError(f"footprints_{index.lower()}_{tile}: mask field names collide: {fields}")
    series = {"kind": "series", "item_id": series_identifier(index, tile), "date": group["datetime"].min(),
              "datetime": f"{group['datetime'].min():%Y-%m-%dT%H:%M:%SZ}/{group['datetime'].max():%Y-%m-%dT%H:%M:%SZ}",
              "cloud": None, "geometry": _union(group.geometry), **{f: "" for f in fields.values()}}
    rows = [series]
    for _, item in group.iterrows():
        row = {"kind": "date", "item_id": item["id"], "date": item["datetime"],
               "datetime": f"{item['datetime']:%Y-%m-%dT%H:%M:%SZ}", "cloud": item.get("eo:cloud_cover"),
               "geometry": item.geometry}
        for key, column in fields.items():
            asset = item["assets"].get(key)
            row[column] = href_of(item, asset["href"]) if asset else ""
        rows.append(row)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    out["date"] = _date_column(list(out["date"]))
    out["cloud"] = out["cloud"].astype("float64")
    return out


def _write(frame: gpd.GeoDataFrame, folder: Path, name: str, fmt: str) -> list[Path]:
    driver, ext = DRIVERS[fmt]
    _check_strings(frame, name, fmt)
    path = folder / f"{name}{ext}"
    if fmt == "parquet":
        frame.to_parquet(path)
    else:
        pyogrio.write_dataframe(frame, path, driver=driver, encoding="UTF-8" if fmt == "shp" else None,
                                use_arrow=True, layer=name)
    return [p for p in folder.iterdir() if p.stem == name]


def write_layers(catalog_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], config: dict[str, Any],
                 fmt: str = "shp") -> LayerSet:
    """Write every footprint layer of the catalogue into ``out_dir`` (each file replaced atomically)."""
    if fmt not in DRIVERS:
        raise LayerError(f"unknown format {fmt!r} (choose {', '.join(DRIVERS)})")
    frame = query_frame(catalog_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    catalog_dir = Path(catalog_dir).resolve()
    base = config.get("asset_href_base")

    def href_of(item: Any, href: str) -> str:
        path = None if base else href_path(catalog_dir / Layout.item(item[INDEX], item[TILE], item["id"]), href)
        return href if path is None else os.path.relpath(path, out.resolve())

    layers: dict[str, gpd.GeoDataFrame] = {}
    if len(frame):
        layers["footprints_all"] = layer_all(frame, config)
        for index in sorted(frame[INDEX].unique()):
            layers[f"footprints_{index.lower()}"] = layer_index(frame, index, config)
        for (index, tile), group in frame.groupby([INDEX, TILE], sort=True):
            layers[f"footprints_{index.lower()}_{tile.lower()}"] = layer_series(group, index, tile, href_of)
    return _replace_changed(layers, out, fmt)


def _fingerprint(layer: gpd.GeoDataFrame, fmt: str) -> str:
    """Content hash of a layer as it would be written: format, CRS, columns and types, values, geometries."""
    digest = hashlib.sha256(json.dumps([fmt, str(layer.crs), [(c, str(t)) for c, t in layer.dtypes.items()]]).encode())
    digest.update(pd.util.hash_pandas_object(layer.drop(columns=layer.geometry.name), index=True).to_numpy().tobytes())
    digest.update(b"".join(shapely.to_wkb(layer.geometry.to_numpy(), hex=False)))
    return digest.hexdigest()


def _replace_changed(layers: dict[str, gpd.GeoDataFrame], out: Path, fmt: str) -> LayerSet:
    """Write the layers whose fingerprint changed (staged, then moved in), remove the vanished ones."""
    remove_leftovers(out)
    state_path = out / STATE_FILE
    try:
        previous = json.loads(state_path.read_text(encoding="utf-8"))["layers"]
    except (OSError, ValueError, KeyError, TypeError):
        previous = {}
    result = LayerSet({name: out / f"{name}{DRIVERS[fmt][1]}" for name in layers})
    state: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=out, prefix=f"{STAGING_PREFIX}{os.getpid()}-") as tmp:
        for name, layer in layers.items():
            fingerprint = _fingerprint(layer, fmt)
            old = previous.get(name) or {}
            if old.get("fingerprint") == fingerprint and all((out / f).is_file() for f in old.get("files", [])):
                state[name] = old
                result.unchanged.append(name)
                continue
            files = _write(layer, Path(tmp), name, fmt)
            for f in files:
                os.replace(f, out / f.name)
            state[name] = {"fingerprint": fingerprint, "files": sorted(f.name for f in files)}
            result.written.append(name)
    for name in sorted(set(previous) - set(layers)):
        for f in previous[name].get("files", []):
            (out / f).unlink(missing_ok=True)
        result.removed.append(name)
    write_if_changed(str(state_path), (json.dumps({"layers": state}, indent=1, sort_keys=True) + "\n").encode())
    return result


__all__ = ["LayerError", "LayerSet", "doi", "index_abbreviations", "md_link", "series_identifier", "write_layers"]
