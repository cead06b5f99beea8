"""The whole chain from one configuration: index, pgstac, footprints, netcdf, geoflow, metadata.

Each step is incremental by itself. The chain holds the catalogue lock (:func:`sen2val_stac.core.lock.catalog_lock`)
throughout, so two cron runs never write one catalogue at once; the indexer is called directly (the ``index``
command would try to take the same lock). Order: netcdf runs before geoflow and metadata so that their records
link the cubes it writes; pgstac (opt-in: not in the default ``run.steps``) right after index, since it reads only
the index collections: the database follows the catalogue without waiting for the derived steps. A failed index
stops the chain (the other steps are reported as skipped); a failed derived step does not stop the other derived
steps. A step whose module is missing fails with that reason. Before the first step, the temporary files that a
killed run left in the catalogue and in the steps' output folders are deleted (:func:`remove_leftovers`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sen2val_stac.config import ConfigError, output_dir
from sen2val_stac.core.atomic import remove_leftovers
from sen2val_stac.core.lock import catalog_lock

log = logging.getLogger(__name__)

STEPS = ("index", "cog", "pgstac", "footprints", "netcdf", "geoflow", "metadata")
OK, FAILED, SKIPPED = "ok", "FAILED", "skipped"


@dataclass
class StepResult:
    """Outcome of one step: ``status`` is ok, FAILED or skipped; ``summary`` says what it wrote, or why not."""

    step: str
    status: str
    seconds: float
    summary: str

    @property
    def ok(self) -> bool:
        """True when the step succeeded."""
        return self.status == OK


@dataclass
class ChainReport:
    """Every step's result and when the lock was acquired and released (UTC)."""

    results: list[StepResult] = field(default_factory=list)
    waited: float = 0.0
    locked_at: dt.datetime | None = None
    released_at: dt.datetime | None = None
    leftovers: list[str] = field(default_factory=list)
    """Temporary files of killed runs deleted before the first step."""

    @property
    def ok(self) -> bool:
        """True when every step succeeded."""
        return bool(self.results) and all(r.ok for r in self.results)


def _index(config: dict[str, Any], catalog: Path) -> str:
    from sen2val_stac.catalog.indexer import index_tree

    # run_chain has already swept the catalogue for a killed run's temporary files.
    report = index_tree(config["indices_dir"], str(catalog), config, progress=False, sweep=False)
    if not report.items_total:
        raise RuntimeError(f"nothing could be indexed in {config['indices_dir']}")
    return (f"{report.items_total} items in {catalog}; added {len(report.added)}, updated {len(report.updated)}, "
            f"removed {len(report.removed)}, skipped {len(report.skipped)} input(s)")


def _cog(config: dict[str, Any], catalog: Path) -> str:
    from sen2val_stac.derive.cog import write_cogs  # COG views, right after index: they become item assets

    report = write_cogs(catalog, config)
    if report.errors:
        raise RuntimeError("; ".join(report.errors))
    return f"written {len(report.written)}, unchanged {report.unchanged} COGs; {report.items_written} items updated"


def _pgstac(config: dict[str, Any], catalog: Path) -> str:
    from sen2val_stac.serve.pgstac import load_catalog

    report = load_catalog(catalog, config["pgstac"]["dsn"], root_href=config.get("root_href"),
                          asset_href_base=config.get("asset_href_base"))
    return report.summary()


def _footprints(config: dict[str, Any], catalog: Path) -> str:
    from sen2val_stac.derive.layers import write_layers

    out = output_dir(config, "footprints", catalog)
    layers = write_layers(catalog, out, config, config["footprints"]["format"])
    return (f"{len(layers.files)} layers in {out}: written {len(layers.written)}, unchanged {len(layers.unchanged)}, "
            f"removed {len(layers.removed)}")


def _netcdf(config: dict[str, Any], catalog: Path) -> str:
    from sen2val_stac.derive.netcdf.export import export

    out = output_dir(config, "netcdf", catalog)
    report = export(catalog, out, config, progress=False)
    if report.errors:
        raise RuntimeError("; ".join(report.errors))
    return f"written {len(report.written)}, unchanged {len(report.unchanged)} cubes in {out}"


def _geoflow(config: dict[str, Any], catalog: Path) -> str:
    from sen2val_stac.derive.geoflow import write_geoflow

    out = output_dir(config, "geoflow", catalog)
    files = write_geoflow(catalog, out, config)
    return f"{', '.join(sorted(p.name for p in files.values()))} in {out}"


def _metadata(config: dict[str, Any], catalog: Path) -> str:
    from sen2val_stac.derive.records import write_records

    out = output_dir(config, "metadata", catalog)
    return f"{len(write_records(catalog, out, config))} records in {out}"


RUNNERS: dict[str, Callable[[dict[str, Any], Path], str]] = {
    "index": _index, "cog": _cog, "pgstac": _pgstac, "footprints": _footprints, "netcdf": _netcdf, "geoflow": _geoflow,
    "metadata": _metadata,
}


def parse_steps(steps: str | Iterable[str], where: str) -> tuple[str, ...]:
    """Steps from ``index,footprints`` or a list, in chain order; unknown names raise ConfigError naming ``where``."""
    names = [s.strip() for s in (steps.split(",") if isinstance(steps, str) else steps) if str(s).strip()]
    unknown = [s for s in names if s not in RUNNERS]
    if unknown or not names:
        raise ConfigError(f"{where}: unknown step(s) {', '.join(map(repr, unknown)) or '(none given)'}"
                          f" (choose from {', '.join(STEPS)})")
    return tuple(s for s in STEPS if s in names)


def check_config(config: dict[str, Any], steps: tuple[str, ...]) -> None:
    """Raise ConfigError (naming the key and the file) when ``run`` lacks a folder it needs."""
    where = config.get("_path", "configuration")
    needed = ("indices_dir", "catalog_dir") if "index" in steps else ("catalog_dir",)
    for key in needed:
        if not config.get(key):
            raise ConfigError(f"{where}: key '{key}' is required by `run`")
    if "pgstac" in steps and not (config.get("pgstac") or {}).get("dsn"):
        raise ConfigError(f"{where}: key 'pgstac.dsn' is required by the pgstac step")
    if "index" in steps and not os.path.isdir(config["indices_dir"]):
        raise ConfigError(f"{where}: key 'indices_dir': {config['indices_dir']} is not a folder")


def _run_step(step: str, config: dict[str, Any], catalog: Path) -> StepResult:
    started = time.perf_counter()
    try:
        summary, status = RUNNERS[step](config, catalog), OK
    except ImportError as exc:
        summary, status = f"step module unavailable: {exc}", FAILED
    except Exception as exc:
        log.debug("step %s failed", step, exc_info=True)
        summary, status = f"{type(exc).__name__}: {exc}", FAILED
    return StepResult(step, status, time.perf_counter() - started, summary)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


OUTPUT_STEPS = ("footprints", "netcdf", "geoflow", "metadata")
"""The steps that write an output folder of their own (``<step>.out_dir``)."""


def _remove_leftovers(config: dict[str, Any], steps: tuple[str, ...], catalog: Path) -> list[str]:
    folders = [catalog, *(output_dir(config, s, catalog) for s in steps if s in OUTPUT_STEPS)]
    removed = [path for folder in folders if folder.is_dir() for path in remove_leftovers(folder)]
    if removed:
        log.info("removed %d temporary file(s) left by a killed run: %s", len(removed), ", ".join(removed))
    return removed


def run_chain(config: dict[str, Any], steps: Iterable[str] = STEPS, wait: float | None = 0) -> ChainReport:
    """Run ``steps`` in chain order under the catalogue lock, waiting up to ``wait`` seconds (None: forever).

    Raises ConfigError before locking, CatalogLocked when another run keeps the lock. Each step's outcome is
    also logged (``sen2val_stac.pipeline``, INFO) as it ends.
    """
    steps = parse_steps(steps, "steps")
    check_config(config, steps)
    catalog = Path(config["catalog_dir"]).resolve()
    report = ChainReport()
    asked = time.monotonic()
    with catalog_lock(str(catalog), wait=wait):
        report.locked_at, report.waited = _now(), time.monotonic() - asked
        report.leftovers = _remove_leftovers(config, steps, catalog)
        for step in steps:
            if report.results and report.results[0].step == "index" and not report.results[0].ok:
                result = StepResult(step, SKIPPED, 0.0, "index failed")
            else:
                result = _run_step(step, config, catalog)
            report.results.append(result)
            log.info("step %s: %s (%.1f s) %s", step, result.status, result.seconds, result.summary)
        report.released_at = _now()  # taken before the release, so a waiting run's locked_at is always later
    return report
