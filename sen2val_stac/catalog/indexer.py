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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sen2val_stac import __version__
from sen2val_stac.catalog.collection_file import ItemLinks, collection_chunks
from sen2val_stac.catalog.parquet import is_stale, write_parquet
from sen2val_stac.catalog.render import CollectionFacts, Layout, item_dict
from sen2val_stac.catalog.root import write_root_catalog
from sen2val_stac.catalog.state import StateStore, load_state
from sen2val_stac.core import constants as C
from sen2val_stac.core.atomic import (
    dump_json,
    remove_leftovers,
    write_atomic,
    write_chunks_atomic,
    write_if_changed,
    write_json,
)
from sen2val_stac.core.errors import InputError
from sen2val_stac.core.templates import templates_dir
from sen2val_stac.tree import names
from sen2val_stac.tree.record import RECORD_VERSION, ExtractSettings, Outcome, extract_safe
from sen2val_stac.tree.scan import ItemSource, Skip, iter_tree, scan_product

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


# Never fewer: with GDAL_NUM_THREADS=1, GDAL's JPEG2000 driver gives each tile's OpenJPEG codec one thread of
# its own, so a 10 m raster (121 tiles of 1024 px) starts and joins 121 threads per read (measured with strace).
MIN_GDAL_THREADS = 2


def gdal_threads_per_worker(workers: int) -> int | None:
    """GDAL decoding threads for each of ``workers`` parallel readers: the cores left to each, at least
    :data:`MIN_GDAL_THREADS`.

    Measured (docs/performance.md): GDAL's JPEG2000 driver decodes on every core by default, so worker
    processes that each start decoding threads only compete. ``GDAL_NUM_THREADS`` set by the user wins (None).
    """
    if os.environ.get("GDAL_NUM_THREADS"):
        return None
    return max(MIN_GDAL_THREADS, (os.cpu_count() or 1) // max(1, workers))


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


Keep = Callable[[ItemSource, Outcome], None]


def _extract_all(todo: Iterable[ItemSource], config: dict[str, Any], catalog_dir: str, workers: int, keep: Keep,
                 scheduler: str | None = None, count: int = 0) -> None:
    """Extract every source of ``todo`` (``count`` of them); each outcome goes to ``keep`` as it arrives, in
    this thread (thumbnails are written here: workers write nothing).

    At most a few tasks per worker are in flight, and ``todo`` is consumed as they finish, so the
    coordinator's memory does not grow with the number of products.
    """

    def kept(source: ItemSource, outcome: Outcome) -> None:
        png = outcome[2]
        if png is not None:
            write_if_changed(_settings(config, catalog_dir, source)["thumbnail_path"] or "", png)
        keep(source, outcome)

    if not count:
        return
    if not scheduler and (workers <= 1 or count < POOL_THRESHOLD):
        for source in todo:
            kept(source, extract_safe(source, _settings(config, catalog_dir, source)))
        return
    threads = MIN_GDAL_THREADS if scheduler and not os.environ.get("GDAL_NUM_THREADS") \
        else gdal_threads_per_worker(workers)
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
                kept(pending.pop(future), future.result())


def _kept_cogs(fresh: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    """The ``cog`` entries (written by the ``cog`` step) of ``old`` whose source raster ``fresh`` still has unchanged."""
    before = {a["key"]: a for a in (old or {}).get("assets", [])}
    now = {a["key"]: a for a in fresh["assets"]}
    return {key: entry for key, entry in ((old or {}).get("cog") or {}).items()
            if entry["source"] in now and now[entry["source"]] == before.get(entry["source"])}


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


class _Todo:
    """The product folders to read, by name within their tile folder (about 120 bytes a product); their
    sources are listed again when their turn comes, so sources are not held."""

    def __init__(self) -> None:
        self._tiles: list[tuple[str, str, str, list[str]]] = []  # index, tile, tile folder, product folder names
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, source: ItemSource) -> None:
        """Read the product of ``source`` (sources come tile folder by tile folder)."""
        tile_folder, name = os.path.split(source.folder)
        if not self._tiles or self._tiles[-1][2] != tile_folder:
            self._tiles.append((source.index, source.tile, tile_folder, []))
        self._tiles[-1][3].append(name)
        self._count += 1

    def relist(self, gone: Callable[[str, Skip], None]) -> Iterator[ItemSource]:
        """The sources to read, listed again one at a time; the item id of a folder that no longer makes an
        item goes to ``gone``, with the reason."""
        for index, tile, tile_folder, products in self._tiles:
            for name in products:
                skips: list[Skip] = []
                folder = os.path.join(tile_folder, name)
                source = scan_product(index, tile, folder, skips)
                if source is not None:
                    yield source
                else:
                    gone(names.item_id(index, tile, names.parse_product_id(name).sensing),
                         skips[-1] if skips else Skip(folder, "changed while indexing"))


def index_tree(
    indices_dir: str,
    catalog_dir: str,
    config: dict[str, Any],
    workers: int | None = None,
    progress: bool | None = None,
    scheduler: str | None = None,
    sweep: bool = True,
) -> IndexReport:
    """Index ``indices_dir`` into the static catalogue at ``catalog_dir`` (incremental, idempotent).

    ``scheduler``: address of a Dask distributed scheduler (``tcp://host:8786``) whose workers read the
    rasters (they must see ``indices_dir`` at the same path); the catalogue written is the same bytes.
    ``sweep``: first delete the temporary files a killed run left in the catalogue (False: the caller did,
    as ``run`` does for the catalogue and every output folder at once).

    Memory stays flat with the number of products: sources are listed one tile folder at a time, records
    stream from the state database (:mod:`~sen2val_stac.catalog.state`), collections are summarised as
    they pass (:class:`~sen2val_stac.catalog.render.CollectionFacts`).
    """
    started = time.perf_counter()
    if scheduler is not None and "://" not in scheduler:
        raise InputError(f"--scheduler {scheduler!r}: expected a Dask scheduler address such as tcp://host:8786")
    indices_dir = os.path.abspath(indices_dir)
    catalog_dir = os.path.abspath(catalog_dir)
    os.makedirs(catalog_dir, exist_ok=True)
    if sweep:
        remove_leftovers(catalog_dir)  # the temporary files of a killed run
    report = IndexReport(catalog_dir=catalog_dir, indices_dir=indices_dir)
    workers = workers or config.get("workers") or os.cpu_count() or 1
    with StateStore.open(catalog_dir) as store:
        state_changed = _index(store, indices_dir, catalog_dir, config, workers, progress, scheduler, report)
    report.seconds = time.perf_counter() - started
    _write_report(report, state_changed)
    return report


def _index(store: StateStore, indices_dir: str, catalog_dir: str, config: dict[str, Any], workers: int,
           progress: bool | None, scheduler: str | None, report: IndexReport) -> bool:
    """The stages of :func:`index_tree`: list and compare, read, render, remove, commit; whether the state changed."""
    from sen2val_stac.core.progress import progress_bar

    kept = store.kept()
    old_failed = store.failed()
    scan_skips: list[Skip] = []
    present: set[str] = set()  # the ids of kept or failed items still in the tree (not of new ones: memory)
    failed_at: dict[str, tuple[str, str, str]] = {}  # index, tile, folder of the products that could not be indexed
    dropped: set[str] = set()  # indexed before, failed now
    todo = _Todo()
    for source in iter_tree(indices_dir, scan_skips):
        old = kept.get(source.item_id)
        if old or source.item_id in old_failed:
            present.add(source.item_id)
        fp = source.fingerprint()
        if old and old.fp == fp and old.record_version == RECORD_VERSION:
            continue
        if old_failed.get(source.item_id, {}).get("fp") == fp:
            failed_at[source.item_id] = (source.index, source.tile, source.folder)
            continue
        todo.add(source)

    fresh: set[str] = set()  # kept items read again (new items are all written)

    def keep(source: ItemSource, outcome: Outcome) -> None:
        status, value, _ = outcome
        if status == "ok":
            if cogs := _kept_cogs(value, store.get(source.item_id) if source.item_id in kept else None):
                value["cog"] = cogs  # another file of the product changed: the COGs of unchanged rasters stay
            store.put(value)
            if source.item_id in kept:
                fresh.add(source.item_id)
        else:
            store.put_failed(source.item_id, {"fp": source.fingerprint(), **value})
            failed_at[source.item_id] = (source.index, source.tile, source.folder)
            if source.item_id in kept:
                dropped.add(source.item_id)
        advance()

    def gone(gone_id: str, skip: Skip) -> None:
        present.discard(gone_id)
        scan_skips.append(skip)
        advance()

    with progress_bar("Reading rasters", len(todo), progress) as advance:
        _extract_all(todo.relist(gone), config, catalog_dir, workers, keep, scheduler, count=len(todo))
    del todo

    vanished = set(kept) - present
    for item_id in vanished:
        store.delete(item_id)
    for item_id in set(old_failed) - present:
        store.delete(item_id)

    indices_rel = os.path.relpath(indices_dir, catalog_dir).replace(os.sep, "/")
    signature = render_signature(config, indices_rel)
    rerender_all = signature != store.meta("render")
    by_index: dict[str, tuple[CollectionFacts, ItemLinks]] = {}
    links_files = contextlib.ExitStack()
    record_skips: list[dict[str, str]] = []
    for record in store.records():
        item_id = record["item_id"]
        if (collection := by_index.get(record["index"])) is None:
            collection = by_index[record["index"]] = (
                CollectionFacts(record["index"]),
                links_files.enter_context(ItemLinks(record["index"], config.get("root_href"))))
        collection[0].add(record)
        collection[1].add(record["tile"], item_id)
        path = os.path.join(catalog_dir, Layout.item(record["index"], record["tile"], item_id))
        if (item_id in fresh or item_id not in kept or rerender_all or not os.path.exists(path)) \
                and write_json(path, item_dict(record, config, indices_rel)):
            report.files_written += 1
            (report.updated if item_id in kept else report.added).append(item_id)
        if not record.get("thumbnail"):
            _remove(os.path.join(catalog_dir, Layout.thumbnail(record["index"], record["tile"], item_id)))
        folder = os.path.join(indices_dir, record["index"], record["tile"], os.path.basename(record["folder"]))
        record_skips += [{"path": _in_tree(s["path"], (record["index"], record["tile"], folder)), "reason": s["reason"]}
                         for s in record["skips"]]
        report.items_total += 1
    report.unchanged = report.items_total - len(report.added) - len(report.updated)

    with links_files:
        for index, (facts, links) in sorted(by_index.items()):
            coll_path = os.path.join(catalog_dir, Layout.collection(index))
            report.files_written += write_chunks_atomic(coll_path, collection_chunks(facts, config, links),
                                                        keep_if_equal=True)
    for index in {k.index for k in kept.values()} - set(by_index):
        _remove(os.path.join(catalog_dir, Layout.collection(index)))
    report.files_written += write_root_catalog(catalog_dir, config)

    for item_id in sorted(vanished | dropped):
        old = kept[item_id]
        _remove(os.path.join(catalog_dir, Layout.item(old.index, old.tile, item_id)))
        _remove(os.path.join(catalog_dir, Layout.thumbnail(old.index, old.tile, item_id)))
        report.removed.append(item_id)

    # The tree as the items link it (relative to the catalogue, like the records' folders in their fingerprints):
    # a catalogue moved with its tree keeps its state.
    store.set_meta("render", signature)
    store.set_meta("indices_rel", indices_rel)
    state_changed = store.changed
    store.commit()
    if report.changed or is_stale(catalog_dir):
        write_parquet(catalog_dir)

    report.skipped = [s.as_dict() for s in scan_skips] + record_skips
    for item_id, entry in store.failed().items():
        where = failed_at.get(item_id)
        report.skipped.append({"path": _in_tree(entry["path"], where) if where else entry["path"],
                               "reason": entry["reason"]})
    report.skipped.sort(key=lambda s: s["path"])
    report.collections = sorted(Layout.collection_id(i) for i in by_index)
    return state_changed


def _in_tree(path: str, where: tuple[str, str, str]) -> str:
    """A path stored in the state, in the product folder where the tree is now (it may have moved since);
    ``where``: the product's index, tile and current folder."""
    index, tile, folder = where
    parts = path.split(os.sep)
    product = [index, tile, os.path.basename(folder)]
    for i in range(len(parts) - 3, -1, -1):
        if parts[i:i + 3] == product:
            return os.path.join(folder, *parts[i + 3:])
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
