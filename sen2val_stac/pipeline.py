"""The whole chain from one configuration: index, footprints, netcdf, geoflow, metadata.

Each step is incremental by itself. The chain holds the catalogue lock throughout, so two cron runs
never write one catalogue at once. A failed index stops the chain (nothing to derive from); a
failed derived step does not stop the other derived steps.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sen2val_stac.config import ConfigError, output_dir
from sen2val_stac.footprint_layers import write_layers
from sen2val_stac.geoflow import write_geoflow
from sen2val_stac.indexer import index_tree
from sen2val_stac.lock import catalog_lock
from sen2val_stac.metadata_records import write_records
from sen2val_stac.netcdf_export import export

# netcdf runs before geoflow and metadata so that their records link the cubes it writes.
STEPS = ("index", "footprints", "netcdf", "geoflow", "metadata")


@dataclass
class StepResult:
    """Outcome of one step."""

    step: str
    ok: bool
    seconds: float
    summary: str


def _index(config: dict[str, Any], catalog: Path) -> str:
    report = index_tree(config["indices_dir"], str(catalog), config, progress=None)
    if not report.items_total:
        raise RuntimeError(f"nothing could be indexed in {config['indices_dir']}")
    return (f"{report.items_total} items; added {len(report.added)}, updated {len(report.updated)}, "
            f"removed {len(report.removed)}, skipped {len(report.skipped)} input(s)")


def _footprints(config: dict[str, Any], catalog: Path) -> str:
    out = output_dir(config, "footprints", catalog)
    layers = write_layers(catalog, out, config, config["footprints"]["format"])
    return f"{len(layers.files)} layers in {out}"


def _geoflow(config: dict[str, Any], catalog: Path) -> str:
    out = output_dir(config, "geoflow", catalog)
    write_geoflow(catalog, out, config)
    return f"entities, contacts and workflow in {out}"


def _metadata(config: dict[str, Any], catalog: Path) -> str:
    out = output_dir(config, "metadata", catalog)
    return f"{len(write_records(catalog, out, config))} records in {out}"


def _netcdf(config: dict[str, Any], catalog: Path) -> str:
    out = output_dir(config, "netcdf", catalog)
    report = export(catalog, out, config)
    if report.errors:
        raise RuntimeError("; ".join(report.errors))
    return f"written {len(report.written)}, unchanged {len(report.unchanged)} cubes in {out}"


RUNNERS: dict[str, Callable[[dict[str, Any], Path], str]] = {
    "index": _index, "footprints": _footprints, "geoflow": _geoflow, "metadata": _metadata, "netcdf": _netcdf,
}


def run_chain(config: dict[str, Any], steps: tuple[str, ...] = STEPS, wait: float | None = 0) -> list[StepResult]:
    """Run ``steps`` in order under the catalogue lock; raises CatalogLocked when another run holds it."""
    for key in ("indices_dir", "catalog_dir"):
        if not config.get(key):
            raise ConfigError(f"{config.get('_path', 'configuration')}: key '{key}' is required by `run`")
    unknown = [s for s in steps if s not in RUNNERS]
    if unknown:
        raise ConfigError(f"unknown step(s): {', '.join(unknown)} (choose from {', '.join(STEPS)})")
    catalog = Path(config["catalog_dir"])
    results: list[StepResult] = []
    with catalog_lock(str(catalog), wait=wait):
        for step in [s for s in STEPS if s in steps]:
            started = time.perf_counter()
            try:
                summary = RUNNERS[step](config, catalog)
                results.append(StepResult(step, True, time.perf_counter() - started, summary))
            except Exception as exc:  # noqa: BLE001 - every step's failure is reported, the chain goes on
                detail = f"{type(exc).__name__}: {exc}"
                results.append(StepResult(step, False, time.perf_counter() - started, detail))
                traceback.print_exc()
                if step == "index":
                    break
    return results
