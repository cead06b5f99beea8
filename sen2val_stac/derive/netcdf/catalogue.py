"""Catalogue the NetCDF cubes: a ``cubes`` collection (datacube extension) and a THREDDS catalog."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import netCDF4
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import mapping, shape

from sen2val_stac.catalog.render import href as link_href
from sen2val_stac.catalog.root import write_root_catalog
from sen2val_stac.catalog.sen2chain_fields import ASSET, INDEX, SCHEMA_URI, TILE
from sen2val_stac.core import constants as C
from sen2val_stac.core import media_types as MT
from sen2val_stac.core.atomic import write_if_changed, write_json
from sen2val_stac.core.templates import index_definition
from sen2val_stac.derive.netcdf.assemble import CubeError, Series
from sen2val_stac.derive.netcdf.encode import iso_duration

DATACUBE = "https://stac-extensions.github.io/datacube/v2.3.0/schema.json"
CUBES = "cubes"


@dataclass
class CubeGrid:
    """The grid of a written cube, read back from the file: what its STAC item describes."""

    epsg: int
    bounds: tuple[float, float, float, float]
    resolution: float
    shape: tuple[int, int]
    times: list[str]
    nodata: int
    scale: float
    offset: float


def _grid_mapping(nc: netCDF4.Dataset, var: netCDF4.Variable[Any]) -> tuple[CRS, str]:
    """CRS and GDAL GeoTransform of a cube: from the variable's grid mapping (``crs``, or ``spatial_ref`` in
    cubes written before 0.2), else from the global ``crs_wkt`` / ``crs_geotransform`` attributes."""
    name = getattr(var, "grid_mapping", None)
    if name in nc.variables:
        mapping = nc[name]
        return CRS.from_wkt(mapping.crs_wkt), str(mapping.GeoTransform)
    try:
        return CRS.from_wkt(nc.crs_wkt), str(nc.crs_geotransform)
    except AttributeError:
        raise CubeError(f"{nc.filepath()}: no grid mapping variable and no crs_wkt global attribute") from None


def read_grid(nc_path: Path, variable: str) -> CubeGrid:
    """Grid (EPSG, bounds, resolution, shape), times and packing of a cube, from the NetCDF file itself."""
    with netCDF4.Dataset(nc_path) as nc:
        var = nc[variable]
        packing = {"nodata": int(var._FillValue), "scale": float(getattr(var, "scale_factor", 1.0)),
                   "offset": float(getattr(var, "add_offset", 0.0))}
        crs, transform = _grid_mapping(nc, var)
        x0, res_x, _, y0, _, res_y = (float(v) for v in transform.split())
        ny, nx = nc.dimensions["y"].size, nc.dimensions["x"].size
        times = netCDF4.num2date(nc["time"][:], nc["time"].units, nc["time"].calendar,
                                 only_use_cftime_datetimes=False)
    epsg = crs.to_epsg()
    if epsg is None:
        raise CubeError(f"{nc_path}: the cube's CRS has no EPSG code")
    bounds = (x0, y0 + res_y * ny, x0 + res_x * nx, y0)
    return CubeGrid(epsg, bounds, abs(res_x), (ny, nx), [f"{t:%Y-%m-%dT%H:%M:%S}Z" for t in np.atleast_1d(np.asarray(times))],
                    int(packing["nodata"]), packing["scale"], packing["offset"])


def _time_step(times: list[str]) -> str | None:
    """ISO 8601 duration between regularly spaced times, None when irregular (or a single date)."""
    seconds = {(datetime.fromisoformat(b[:-1]) - datetime.fromisoformat(a[:-1])).total_seconds()
               for a, b in itertools.pairwise(times)}
    return iso_duration(seconds.pop()) if len(seconds) == 1 else None


def cube_item(series: Series, nc_path: Path, catalog_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """STAC item of one cube: datacube dimensions/variables, the NetCDF asset, links to its sources."""
    grid = read_grid(nc_path, series.index.lower())
    west, south, east, north = grid.bounds
    item_file = f"{CUBES}/{series.name}.json"
    footprint = shapely.union_all([shape(r.item["geometry"]) for r in series.items])
    base = config["netcdf"].get("href_base")
    href = (base.rstrip("/") + "/" + nc_path.name) if base else os.path.relpath(nc_path, catalog_dir / CUBES)
    root_href = config.get("root_href")
    def link(rel: str, target: str, media_type: str = MT.JSON) -> dict[str, str]:
        return {"rel": rel, "href": link_href(item_file, target, root_href), "type": media_type}

    collection_file = f"{CUBES}/{C.COLLECTION_FILE}"
    links = [link("root", C.CATALOG_FILE), link("parent", collection_file), link("collection", collection_file)]
    for ref in series.items:
        rel = os.path.relpath(ref.path, catalog_dir).replace(os.sep, "/")
        links.append(link("derived_from", rel, MT.GEOJSON))
    if root_href:
        links.append(link("self", item_file, MT.GEOJSON))
    definition = index_definition(series.index)
    variable: dict[str, Any] = {
        "type": "data", "dimensions": ["time", "y", "x"], "data_type": "int16", "nodata": grid.nodata,
        "description": f"{definition['title']} ({series.asset}), packed int16: value = stored x {grid.scale:g} "
                       f"+ {grid.offset:g}"}
    if definition.get("unit"):
        variable["unit"] = definition["unit"]
    return {
        "type": "Feature",
        "stac_version": C.STAC_VERSION,
        "stac_extensions": [SCHEMA_URI, DATACUBE, C.FILE, C.PROJECTION],
        "id": series.name,
        "geometry": mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": {
            "title": f"{series.index} time series, tile {series.tile} ({series.asset})",
            "datetime": None, "start_datetime": grid.times[0], "end_datetime": grid.times[-1],
            "proj:code": f"EPSG:{grid.epsg}", "proj:bbox": list(grid.bounds), "proj:shape": list(grid.shape),
            "cube:dimensions": {
                "x": {"type": "spatial", "axis": "x", "extent": [west, east], "step": grid.resolution,
                      "reference_system": grid.epsg},
                "y": {"type": "spatial", "axis": "y", "extent": [south, north], "step": grid.resolution,
                      "reference_system": grid.epsg},
                "time": {"type": "temporal", "extent": [grid.times[0], grid.times[-1]],
                         "step": _time_step(grid.times), "values": grid.times},
            },
            "cube:variables": {series.index.lower(): variable},
            INDEX: series.index, TILE: series.tile, ASSET: series.asset,
        },
        "links": links,
        "assets": {"netcdf": {"href": href, "type": MT.NETCDF, "roles": ["data"],
                              "title": f"NetCDF-4 cube {nc_path.name}", "file:size": nc_path.stat().st_size}},
        "collection": CUBES,
    }


def write_cube_collection(catalog_dir: Path, items: list[dict[str, Any]], config: dict[str, Any]) -> None:
    """(Re)write ``cubes/collection.json`` and the cube items; relink the root catalog."""
    folder = catalog_dir / CUBES
    keep = {f"{i['id']}.json" for i in items}
    for old in folder.glob("*.json") if folder.exists() else []:
        if old.name != C.COLLECTION_FILE and old.name not in keep:
            old.unlink()
    if not items:
        if (folder / C.COLLECTION_FILE).exists():
            (folder / C.COLLECTION_FILE).unlink()
        write_root_catalog(str(catalog_dir), config)
        return
    for item in items:
        write_json(str(folder / f"{item['id']}.json"), item)
    boxes = [i["bbox"] for i in items]
    coll_file = f"{CUBES}/{C.COLLECTION_FILE}"
    root_href = config.get("root_href")
    links = [{"rel": "root", "href": link_href(coll_file, C.CATALOG_FILE, root_href), "type": MT.JSON},
             {"rel": "parent", "href": link_href(coll_file, C.CATALOG_FILE, root_href), "type": MT.JSON}]
    links += [{"rel": "item", "href": link_href(coll_file, f"{CUBES}/{i['id']}.json", root_href),
               "type": MT.GEOJSON} for i in sorted(items, key=lambda i: i["id"])]
    if root_href:
        links.append({"rel": "self", "href": link_href(coll_file, coll_file, root_href), "type": MT.JSON})
    write_json(str(folder / C.COLLECTION_FILE), {
        "type": "Collection", "stac_version": C.STAC_VERSION, "stac_extensions": [],
        "id": CUBES, "title": "NetCDF time-series cubes",
        "description": "One NetCDF-4 (CF-1.8, ACDD-1.3) file per index, tile and asset: every date of the series, "
                       "assembled from the index collections' items with stackstac.",
        "license": config["license"],
        "extent": {"spatial": {"bbox": [[min(b[0] for b in boxes), min(b[1] for b in boxes),
                                         max(b[2] for b in boxes), max(b[3] for b in boxes)]]},
                   "temporal": {"interval": [[min(i["properties"]["start_datetime"] for i in items),
                                              max(i["properties"]["end_datetime"] for i in items)]]}},
        "item_assets": {"netcdf": {"type": MT.NETCDF, "roles": ["data"], "title": "NetCDF-4 cube"}},
        "links": links,
    })
    write_root_catalog(str(catalog_dir), config)


def write_thredds_catalog(out_dir: Path, files: list[Path], title: str) -> Path:
    """A THREDDS InvCatalog 1.0.1 listing the cubes under one compound service."""
    datasets = "\n".join(
        f"    <dataset name={quoteattr(f.stem)} ID={quoteattr('sen2chain/' + f.stem)} urlPath={quoteattr(f.name)}>\n"
        f"      <dataSize units=\"bytes\">{f.stat().st_size}</dataSize>\n    </dataset>"
        for f in sorted(files))
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns="http://www.unidata.ucar.edu/namespaces/thredds/InvCatalog/v1.0"
         xmlns:xlink="http://www.w3.org/1999/xlink" name={quoteattr(title)} version="1.0.1">
  <service name="all" serviceType="Compound" base="">
    <service name="odap" serviceType="OPeNDAP" base="/thredds/dodsC/"/>
    <service name="http" serviceType="HTTPServer" base="/thredds/fileServer/"/>
    <service name="ncss" serviceType="NetcdfSubset" base="/thredds/ncss/"/>
  </service>
  <dataset name={quoteattr(title)} ID="sen2chain">
    <metadata inherited="true">
      <serviceName>all</serviceName>
      <dataType>Grid</dataType>
      <dataFormat>NetCDF</dataFormat>
    </metadata>
{datasets}
  </dataset>
</catalog>
"""
    path = out_dir / "catalog.xml"
    write_if_changed(str(path), xml.encode("utf-8"))
    return path
