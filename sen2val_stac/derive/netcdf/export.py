"""Export every selected series to NetCDF, incrementally, on a local or distributed Dask scheduler."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask

from sen2val_stac.catalog.query import query_items
from sen2val_stac.catalog.read import group_series, href_path
from sen2val_stac.config import ConfigError
from sen2val_stac.core.progress import progress_bar
from sen2val_stac.derive.netcdf.assemble import (
    CubeError,
    Series,
    assemble,
    default_asset,
    grid_of,
    read_env,
    usable_items,
)
from sen2val_stac.derive.netcdf.catalogue import (
    cube_item,
    write_cube_collection,
    write_thredds_catalog,
)
from sen2val_stac.derive.netcdf.encode import (
    build_dataset,
    read_fingerprint,
    sources_fingerprint,
    write_netcdf,
)

log = logging.getLogger(__name__)
# Besides a tcp:// address; ``synchronous`` (one thread) is for debugging.
SCHEDULERS = ("threads", "processes", "synchronous")


@dataclass
class ExportReport:
    """What an export run did."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def check_settings(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` when the ``netcdf`` section cannot work (chunks, complevel, scheduler)."""
    settings = config["netcdf"]
    chunks = settings["chunks"]
    if len(chunks) != 3 or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in chunks):
        raise ConfigError(f"netcdf.chunks must be three positive integers T,Y,X, got {chunks!r}")
    if not 0 <= settings["complevel"] <= 9:
        raise ConfigError(f"netcdf.complevel must be 0 to 9, got {settings['complevel']!r}")
    name = settings["scheduler"]
    if "://" not in name and name not in SCHEDULERS:
        raise ConfigError(f"netcdf.scheduler: unknown scheduler {name!r} (threads, processes, or tcp://host:port)")
    if not settings["asset_preference"]:
        raise ConfigError("netcdf.asset_preference must name at least one asset")


@contextlib.contextmanager
def scheduler(name: str) -> Iterator[None]:
    """``threads``, ``processes`` or a Dask distributed scheduler address (``tcp://host:port``).

    ``processes`` starts a local distributed cluster (one single-threaded worker process per core, on
    127.0.0.1): dask's plain multiprocessing scheduler cannot share xarray's NetCDF write lock with its
    workers. Either way the cube is written by the same distributed code path as with an address.
    """
    if "://" in name:
        from distributed import Client

        with Client(name, set_as_default=True):  # type: ignore[no-untyped-call]
            yield
    elif name == "processes":
        from distributed import Client, LocalCluster

        cluster_options = {"n_workers": os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
                           "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"}
        with _quiet("distributed"), LocalCluster(**cluster_options) as cluster:  # type: ignore[no-untyped-call]
            with Client(cluster, set_as_default=True):  # type: ignore[no-untyped-call]
                yield
    elif name in SCHEDULERS:
        with dask.config.set(scheduler=name):
            yield
    else:
        raise ConfigError(f"unknown scheduler {name!r} (threads, processes, or tcp://host:port)")


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Silence a chatty library logger below WARNING for the duration."""
    log_ = logging.getLogger(logger)
    level = log_.level
    log_.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log_.setLevel(level)


def export(catalog_dir: str | Path, out_dir: str | Path, config: dict[str, Any], index: str | None = None,
           tile: str | None = None, asset: str | None = None, start: str | None = None, end: str | None = None,
           resolution: float | None = None, progress: bool | None = None) -> ExportReport:
    """Write one cube per (index, tile) series matching the filters; skip series whose sources did not change.

    Without a time filter a series' cube replaces any older cube of the same index, tile and asset (whose last
    date differed); with ``start``/``end`` the extract is written beside the full-series cubes.
    """
    check_settings(config)
    catalog_dir, out = Path(catalog_dir).resolve(), Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = config["netcdf"]
    report = ExportReport()
    groups = group_series(query_items(catalog_dir, index=index, tile=tile, start=start, end=end))
    replace_older = start is None and end is None
    cube_items: list[dict[str, Any]] = []
    with scheduler(settings["scheduler"]), \
            progress_bar("Writing NetCDF cubes", len(groups), progress) as advance:
        for (idx, tl), refs in groups.items():
            key = default_asset(refs, asset or settings["asset"], settings["asset_preference"])
            series = usable_items(idx, tl, key, refs)
            report.skipped += [f"{idx} {tl}: {s}" for s in series.skipped]
            try:
                path = _export_series(series, out, config, resolution, report)
                if replace_older:
                    for old in sorted(out.glob(f"{idx}_{tl}_{series.asset}_*.nc")):
                        if old != path:
                            old.unlink()
                            report.removed.append(old.name)
                cube_items.append(cube_item(series, path, catalog_dir, config))
            except (CubeError, OSError, RuntimeError, ValueError) as exc:
                report.errors.append(str(exc))
                log.error("%s", exc)
            advance()
    if settings["catalogue"] and index is None and tile is None and replace_older:
        write_cube_collection(catalog_dir, cube_items, config)
    elif settings["catalogue"]:
        _merge_cube_items(catalog_dir, cube_items, config)
    if settings["thredds_catalog"]:
        write_thredds_catalog(out, sorted(out.glob("*.nc")), config["catalog"]["title"])
    return report


def _export_series(series: Series, out: Path, config: dict[str, Any], resolution: float | None,
                   report: ExportReport) -> Path:
    """Write the cube of ``series`` unless the file already holds the same sources, grid and encoding."""
    if not series.items:
        raise CubeError(f"series {series.index} {series.tile}: no item has a readable '{series.asset}' asset")
    settings = config["netcdf"]
    epsg, _, native = grid_of(series)
    t_chunk, y_chunk, x_chunk = (int(c) for c in settings["chunks"])
    chunks = (t_chunk, y_chunk, x_chunk)
    tolerance = int(config["footprint"]["nodata_tolerance"])
    fingerprint = sources_fingerprint(series, {"resolution": float(resolution or native), "chunks": list(chunks),
                                               "complevel": int(settings["complevel"]), "nodata_tolerance": tolerance})
    path = out / f"{series.name}.nc"
    if path.exists() and read_fingerprint(str(path)) == fingerprint:
        report.unchanged.append(path.name)
        return path
    data, nodata = assemble(series, resolution, chunks, tolerance)
    ds, encoding = build_dataset(data, nodata, series, epsg, config, series.skipped, fingerprint)
    with read_env():
        write_netcdf(ds, encoding, str(path))
    report.written.append(path.name)
    return path


def _merge_cube_items(catalog_dir: Path, items: list[dict[str, Any]], config: dict[str, Any]) -> None:
    """A filtered run updates its own cube items and keeps the others that still have their file."""
    folder = catalog_dir / "cubes"
    known = {i["id"]: i for i in items}
    for path in folder.glob("*.json") if folder.exists() else []:
        if path.name == "collection.json" or path.stem in known:
            continue
        item = json.loads(path.read_text(encoding="utf-8"))
        nc = href_path(path, item["assets"]["netcdf"]["href"])
        if nc is None or nc.exists():
            known[item["id"]] = item
    write_cube_collection(catalog_dir, list(known.values()), config)
