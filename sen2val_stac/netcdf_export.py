"""Export every selected series to NetCDF, incrementally, on a local or distributed Dask scheduler."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask

from sen2val_stac.catalog_read import group_series
from sen2val_stac.cube_catalog import cube_item, write_cube_collection, write_thredds_catalog
from sen2val_stac.cubes import CubeError, assemble, default_asset, grid_of, usable_items
from sen2val_stac.netcdf_encoding import build_dataset, read_fingerprint, sources_fingerprint, write_netcdf
from sen2val_stac.progress import progress_bar
from sen2val_stac.query import query_items

log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    """What an export run did."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def scheduler(name: str) -> Iterator[None]:
    """``threads``, ``processes`` or a Dask distributed scheduler address (``tcp://host:port``)."""
    if "://" in name:
        from distributed import Client

        with Client(name, set_as_default=True):
            yield
    elif name in ("threads", "processes", "synchronous"):
        with dask.config.set(scheduler=name):
            yield
    else:
        raise ValueError(f"unknown scheduler {name!r} (threads, processes, or tcp://host:port)")


def export(catalog_dir: str | Path, out_dir: str | Path, config: dict[str, Any], index: str | None = None,
           tile: str | None = None, asset: str | None = None, start: str | None = None, end: str | None = None,
           resolution: float | None = None, progress: bool | None = None) -> ExportReport:
    """Write one cube per (index, tile) series matching the filters; skip series whose sources did not change."""
    catalog_dir, out = Path(catalog_dir).resolve(), Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = config["netcdf"]
    chunks = tuple(int(c) for c in settings["chunks"])
    report = ExportReport()
    groups = group_series(query_items(catalog_dir, index=index, tile=tile, start=start, end=end))
    cube_items: list[dict[str, Any]] = []
    with scheduler(settings["scheduler"]), \
            progress_bar("Writing NetCDF cubes", len(groups), progress) as advance:
        for (idx, tl), refs in groups.items():
            series = usable_items(idx, tl, default_asset(refs, asset or settings["asset"]), refs)
            report.skipped += [f"{idx} {tl}: {s}" for s in series.skipped]
            try:
                epsg, bounds, native = grid_of(series) if series.items else (None, None, None)
                if not series.items:
                    raise CubeError(f"series {idx} {tl}: no item has a readable '{series.asset}' asset")
                path = out / f"{series.name}.nc"
                previous = sorted(out.glob(f"{idx}_{tl}_{series.asset}_*.nc"))
                if path.exists() and read_fingerprint(str(path)) == sources_fingerprint(series) \
                        and (resolution is None or resolution == native):
                    report.unchanged.append(path.name)
                else:
                    data, nodata = assemble(series, resolution, chunks)
                    ds, encoding = build_dataset(data, nodata, series, epsg, config, series.skipped)
                    write_netcdf(ds, encoding, str(path))
                    report.written.append(path.name)
                for old in previous:
                    if old != path:
                        old.unlink()
                        report.removed.append(old.name)
                res = resolution or native
                shape_ = (round((bounds[3] - bounds[1]) / res), round((bounds[2] - bounds[0]) / res))
                cube_items.append(cube_item(series, path, catalog_dir, epsg, bounds, res, shape_, config))
            except (CubeError, OSError, RuntimeError, ValueError) as exc:
                report.errors.append(str(exc))
                log.error("%s", exc)
            advance()
    if settings["catalogue"] and index is None and tile is None and start is None and end is None:
        write_cube_collection(catalog_dir, cube_items, config)
    elif settings["catalogue"]:
        _merge_cube_items(catalog_dir, cube_items, config)
    if settings["thredds_catalog"]:
        write_thredds_catalog(out, sorted(out.glob("*.nc")), config["catalog"]["title"])
    return report


def _merge_cube_items(catalog_dir: Path, items: list[dict[str, Any]], config: dict[str, Any]) -> None:
    """A filtered run updates its own cube items and keeps the others that still have their file."""
    folder = catalog_dir / "cubes"
    known = {i["id"]: i for i in items}
    for path in folder.glob("*.json") if folder.exists() else []:
        if path.name == "collection.json" or path.stem in known:
            continue
        item = json.loads(path.read_text(encoding="utf-8"))
        nc = (path.parent / item["assets"]["netcdf"]["href"]).resolve()
        if "://" in item["assets"]["netcdf"]["href"] or nc.exists():
            known[item["id"]] = item
    write_cube_collection(catalog_dir, list(known.values()), config)
