"""Incremental indexing of an INDICES tree into the static catalogue.

Order of writes (each file atomic): changed items, then collections, then the root catalog, then
deletions of vanished items, then the state file. A run killed at any point leaves a valid
catalogue; the next run redoes what the state does not yet record.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sen2val_stac import __version__
from sen2val_stac.catalog.parquet import is_stale, write_parquet
from sen2val_stac.catalog.render import Layout, collection_dict, item_dict
from sen2val_stac.catalog.root import write_root_catalog
from sen2val_stac.core import constants as C
from sen2val_stac.core.atomic import dump_json, remove_leftovers, write_atomic, write_if_changed, write_json
from sen2val_stac.core.errors import InputError
from sen2val_stac.core.templates import templates_dir
from sen2val_stac.tree.record import RECORD_VERSION, ExtractSettings, Outcome, Record, extract_safe
from sen2val_stac.tree.scan import ItemSource, Skip, scan_tree

STATE_VERSION = 1
# Below this many products, reading in the calling thread is as fast as a pool.
POOL_THRESHOLD = 2


@dataclass
class IndexReport:
    """What one ``index`` run did."""

    catalog_dir: str
    indices_dir: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    files_written: int = 0
    items_total: int = 0
    collections: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """True when any catalogue file was written or removed."""
        return bool(self.files_written or self.removed)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the report file)."""
        return {
            "catalog_dir": self.catalog_dir,
            "indices_dir": self.indices_dir,
            "items_total": self.items_total,
            "collections": self.collections,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "files_written": self.files_written,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
        }


def _state_path(catalog_dir: str) -> str:
    return os.path.join(catalog_dir, C.STATE_DIR, C.STATE_FILE)


def load_state(catalog_dir: str) -> dict[str, Any]:
    """The indexer state of a catalogue (empty when missing, unreadable or from another version)."""
    try:
        with open(_state_path(catalog_dir), encoding="utf-8") as f:
            state: dict[str, Any] = json.load(f)
        if state.get("version") == STATE_VERSION:
            return state
    except (OSError, ValueError):
        pass
    return {"version": STATE_VERSION, "items": {}, "failed": {}, "render": None}


def render_signature(config: dict[str, Any], indices_rel: str) -> str:
    """Digest of everything item rendering depends on besides the record: code version, config, templates."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{__version__}\0{indices_rel}\0".encode())
    h.update(json.dumps({k: v for k, v in config.items() if not k.startswith("_")}, sort_keys=True).encode())
    for path in sorted(templates_dir().rglob("*.json")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _settings(config: dict[str, Any], catalog_dir: str, source: ItemSource) -> ExtractSettings:
    return {
        "read_size": int(config["footprint"]["read_size"]),
        "simplify_m": float(config["footprint"]["simplify_m"]),
        "nodata_tolerance": float(config["footprint"]["nodata_tolerance"]),
        "checksum": config.get("checksum") not in (None, "none", False),
        "thumbnail_path": os.path.join(catalog_dir, Layout.thumbnail(source.index, source.tile, source.item_id)),
    }


def gdal_threads_per_worker(workers: int) -> int | None:
    """GDAL decoding threads for each of ``workers`` parallel readers: the cores left to each, at least 1.

    Measured (docs/performance.md): GDAL's JPEG2000 driver decodes on every core by default, so worker
    processes that each start decoding threads only compete. ``GDAL_NUM_THREADS`` set by the user wins (None).
    """
    if os.environ.get("GDAL_NUM_THREADS"):
        return None
    return max(1, (os.cpu_count() or 1) // max(1, workers))


@contextlib.contextmanager
def _executor(workers: int, scheduler: str | None) -> Iterator[tuple[Executor, int]]:
    """A local pool of ``workers`` threads, or the workers of the Dask scheduler at ``scheduler``; and its slots."""
    if scheduler:
        from distributed import Client

        try:
            client = Client(scheduler, timeout=10, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--scheduler {scheduler}: cannot connect to the Dask scheduler ({exc})") from exc
        with client:
            slots = sum(client.nthreads().values())  # type: ignore[no-untyped-call]
            yield client.get_executor(pure=False), max(1, slots)  # type: ignore[no-untyped-call]
        return
    # Threads, not processes: decoding, hashing and geometry release the GIL, and threads share the
    # page cache's maps and skip pickling records (12-18 % faster at 10 m, docs/performance.md).
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract") as pool:
        yield pool, workers


def _extract_all(todo: list[ItemSource], config: dict[str, Any], catalog_dir: str, workers: int, advance: Any,
                 scheduler: str | None = None) -> dict[str, tuple[str, Any]]:
    """Extract every source; thumbnails are written here as results arrive (workers write nothing).

    At most a few tasks per worker are in flight, so the coordinator's memory does not grow with the
    number of products beyond their records.
    """
    results: dict[str, tuple[str, Any]] = {}

    def keep(source: ItemSource, outcome: Outcome) -> None:
        status, value, png = outcome
        if png is not None:
            write_if_changed(_settings(config, catalog_dir, source)["thumbnail_path"] or "", png)
        results[source.item_id] = (status, value)
        advance()

    if not todo:
        return results
    if not scheduler and (workers <= 1 or len(todo) < POOL_THRESHOLD):
        for source in todo:
            keep(source, extract_safe(source, _settings(config, catalog_dir, source)))
        return results
    threads = 1 if scheduler and not os.environ.get("GDAL_NUM_THREADS") else gdal_threads_per_worker(workers)
    with _executor(workers, scheduler) as (pool, slots):
        window = 4 * slots
        pending: dict[Future[Outcome], ItemSource] = {}
        queue = iter(todo)
        while True:
            for source in queue:
                pending[pool.submit(extract_safe, source, _settings(config, catalog_dir, source), threads)] = source
                if len(pending) >= window:
                    break
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                keep(pending.pop(future), future.result())
    return results


def _kept_cogs(fresh: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The ``cog`` entries (written by the ``cog`` step) of ``old`` whose source raster ``fresh`` still has unchanged."""
    before = {a["key"]: a for a in (old or {}).get("assets", [])}
    now = {a["key"]: a for a in fresh["assets"]}
    return {key: entry for key, entry in ((old or {}).get("cog") or {}).items()
            if entry["source"] in now and now[entry["source"]] == before.get(entry["source"])}


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def index_tree(
    indices_dir: str,
    catalog_dir: str,
    config: dict[str, Any],
    workers: int | None = None,
    progress: bool | None = None,
    scheduler: str | None = None,
) -> IndexReport:
    """Index ``indices_dir`` into the static catalogue at ``catalog_dir`` (incremental, idempotent).

    ``scheduler``: address of a Dask distributed scheduler (``tcp://host:8786``) whose workers read the
    rasters (they must see ``indices_dir`` at the same path); the catalogue written is the same bytes.
    """
    from sen2val_stac.core.progress import progress_bar

    started = time.perf_counter()
    if scheduler is not None and "://" not in scheduler:
        raise InputError(f"--scheduler {scheduler!r}: expected a Dask scheduler address such as tcp://host:8786")
    indices_dir = os.path.abspath(indices_dir)
    catalog_dir = os.path.abspath(catalog_dir)
    os.makedirs(catalog_dir, exist_ok=True)
    remove_leftovers(catalog_dir)  # the temporary files of a killed run
    report = IndexReport(catalog_dir=catalog_dir, indices_dir=indices_dir)
    workers = workers or config.get("workers") or os.cpu_count() or 1

    sources, skips = scan_tree(indices_dir)
    state = load_state(catalog_dir)
    old_items: dict[str, Any] = state["items"]
    old_failed: dict[str, Any] = state.get("failed", {})
    records: dict[str, Record] = {}
    failed: dict[str, Any] = {}
    todo: list[ItemSource] = []
    for source in sources:
        fp = source.fingerprint()
        old = old_items.get(source.item_id)
        if old and old["fp"] == fp and old["record_version"] == RECORD_VERSION:
            records[source.item_id] = old
        elif old_failed.get(source.item_id, {}).get("fp") == fp:
            failed[source.item_id] = old_failed[source.item_id]
        else:
            todo.append(source)

    with progress_bar("Reading rasters", len(todo), progress) as advance:
        results = _extract_all(todo, config, catalog_dir, workers, advance, scheduler)
    fresh: set[str] = set()
    for source in todo:
        status, value = results[source.item_id]
        if status == "ok":
            if cogs := _kept_cogs(value, old_items.get(source.item_id)):
                value["cog"] = cogs  # another file of the product changed: the COGs of unchanged rasters stay
            records[source.item_id] = value
            fresh.add(source.item_id)
        else:
            failed[source.item_id] = {"fp": source.fingerprint(), **value}

    indices_rel = os.path.relpath(indices_dir, catalog_dir).replace(os.sep, "/")
    signature = render_signature(config, indices_rel)
    rerender_all = signature != state.get("render")
    by_index: dict[str, list[Record]] = {}
    for item_id in sorted(records):
        record = records[item_id]
        by_index.setdefault(record["index"], []).append(record)
        path = os.path.join(catalog_dir, Layout.item(record["index"], record["tile"], item_id))
        if (item_id in fresh or rerender_all or not os.path.exists(path)) \
                and write_json(path, item_dict(record, config, indices_rel)):
            report.files_written += 1
            (report.updated if item_id in old_items else report.added).append(item_id)
    report.unchanged = len(records) - len(report.added) - len(report.updated)

    for index, recs in sorted(by_index.items()):
        coll_path = os.path.join(catalog_dir, Layout.collection(index))
        report.files_written += write_json(coll_path, collection_dict(index, recs, config))
    vanished_indices = {r["index"] for r in old_items.values()} - set(by_index)
    for index in vanished_indices:
        _remove(os.path.join(catalog_dir, Layout.collection(index)))
    report.files_written += write_root_catalog(catalog_dir, config)

    for item_id in sorted(set(old_items) - set(records)):
        old = old_items[item_id]
        _remove(os.path.join(catalog_dir, Layout.item(old["index"], old["tile"], item_id)))
        _remove(os.path.join(catalog_dir, Layout.thumbnail(old["index"], old["tile"], item_id)))
        report.removed.append(item_id)
    for item_id, record in records.items():
        if not record.get("thumbnail"):
            _remove(os.path.join(catalog_dir, Layout.thumbnail(record["index"], record["tile"], item_id)))

    # The tree as the items link it (relative to the catalogue, like the records' folders in their fingerprints):
    # a catalogue moved with its tree keeps its state.
    new_state = {"version": STATE_VERSION, "render": signature, "indices_rel": indices_rel,
                 "items": records, "failed": failed}
    state_changed = new_state != state
    if state_changed:
        write_atomic(_state_path(catalog_dir), json.dumps(new_state, separators=(",", ":")).encode())
    if report.changed or is_stale(catalog_dir):
        write_parquet(catalog_dir)

    report.skipped = [s.as_dict() for s in skips]
    here = {source.item_id: source for source in sources}
    report.skipped += [{"path": _in_tree(f["path"], here[i]), "reason": f["reason"]} for i, f in failed.items()]
    report.skipped += [{"path": _in_tree(s["path"], here[i]), "reason": s["reason"]}
                       for i, r in records.items() for s in r["skips"]]
    report.skipped.sort(key=lambda s: s["path"])
    report.items_total = len(records)
    report.collections = sorted(Layout.collection_id(i) for i in by_index)
    report.seconds = time.perf_counter() - started
    _write_report(report, state_changed)
    return report


def _in_tree(path: str, source: ItemSource) -> str:
    """A path stored in the state, in the product folder where the tree is now (it may have moved since)."""
    parts = path.split(os.sep)
    product = [source.index, source.tile, os.path.basename(source.folder)]
    for i in range(len(parts) - 3, -1, -1):
        if parts[i:i + 3] == product:
            return os.path.join(source.folder, *parts[i + 3:])
    return path


def _skip_list(report: dict[str, Any]) -> list[tuple[str, str]]:
    """A report's skipped inputs, by path inside the tree (a moved tree skips the same files)."""
    return sorted((os.path.relpath(s["path"], report["indices_dir"]), s["reason"]) for s in report.get("skipped", []))


def _write_report(report: IndexReport, state_changed: bool) -> None:
    """Save the report of a run that changed the catalogue, its state or its skipped inputs (a no-op run writes nothing)."""
    path = os.path.join(report.catalog_dir, C.STATE_DIR, C.REPORT_FILE)
    saved: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    new = report.as_dict()
    if state_changed or report.changed or not saved.get("indices_dir") or _skip_list(saved) != _skip_list(new):
        write_atomic(path, dump_json(new))


__all__ = ["IndexReport", "Skip", "index_tree", "load_state", "write_root_catalog"]
