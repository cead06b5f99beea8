"""Load the catalogue into pgstac, incrementally, in one transaction.

Collections and items are read from the static catalogue (:mod:`sen2val_stac.catalog.read`), prepared
(:mod:`.prepare`: absolute hrefs, no static-tree links, a content hash) and handed to pypgstac's
``Loader`` in-process. Only what changed is written: a collection whose JSON differs is upserted, an
item whose hash differs (or that is new) is deleted and inserted (pypgstac's ``delsert``: its ``upsert``
would leave the stored hash stale), an item or collection of this catalogue's kind (``sen2chain:index``)
that left the catalogue is deleted. Everything happens in one transaction: a failure anywhere rolls it
all back, readers see the previous state until the commit. Two loads into one database wait for each
other (a transaction-level advisory lock).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sen2val_stac.catalog.read import collections as read_collections
from sen2val_stac.catalog.read import iter_items
from sen2val_stac.catalog.sen2chain_fields import INDEX
from sen2val_stac.core import constants as C
from sen2val_stac.core.errors import InputError
from sen2val_stac.serve.pgstac.dsn import DatabaseError, connect, mask_dsn, pgstac_version, reason
from sen2val_stac.serve.pgstac.prepare import HASH_KEY, Hrefs, prepare_collection, prepare_item
from sen2val_stac.serve.pgstac.queryables import index_partitions, sync_queryables

if TYPE_CHECKING:
    import psycopg

MARKER = INDEX  # the collections this catalogue owns in a shared database
LOCK_KEY = "sen2val-stac pgstac load"
CHUNK = 5000


@dataclass
class LoadReport:
    """What a load changed (counts of items, ids of collections) and how long it took."""

    dsn: str
    items_added: int = 0
    items_updated: int = 0
    items_removed: int = 0
    items_unchanged: int = 0
    collections_added: list[str] = field(default_factory=list)
    collections_updated: list[str] = field(default_factory=list)
    collections_removed: list[str] = field(default_factory=list)
    queryables_changed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def items_total(self) -> int:
        """Items of the catalogue now in the database."""
        return self.items_added + self.items_updated + self.items_unchanged

    def summary(self) -> str:
        """One line for the terminal and the ``run`` report."""
        return (f"{self.items_total} items in {self.dsn}: added {self.items_added}, updated {self.items_updated}, "
                f"removed {self.items_removed}, unchanged {self.items_unchanged}; collections added "
                f"{len(self.collections_added)}, updated {len(self.collections_updated)}, removed "
                f"{len(self.collections_removed)}; {self.seconds:.1f} s")


def _catalog_collections(catalog_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    if not (catalog_dir / C.CATALOG_FILE).is_file():
        raise InputError(f"{catalog_dir}: no {C.CATALOG_FILE} (not a catalogue folder)")
    found = [(path, coll) for path, coll in read_collections(catalog_dir) if MARKER in coll]
    if not found:
        raise InputError(f"{catalog_dir}: no index collection in the catalogue; nothing loaded "
                         "(refusing to empty the database)")
    return found


def _load_collections(loader: Any, conn: psycopg.Connection[Any],
                      wanted: dict[str, dict[str, Any]], report: LoadReport) -> None:
    from pypgstac.load import Methods

    stored = {str(cid): content for cid, content in conn.execute(
        "SELECT id, content FROM pgstac.collections WHERE content ? %s", (MARKER,)).fetchall()}
    changed = [c for cid, c in wanted.items() if stored.get(cid) != c]
    report.collections_added = [c["id"] for c in changed if c["id"] not in stored]
    report.collections_updated = [c["id"] for c in changed if c["id"] in stored]
    report.collections_removed = sorted(set(stored) - set(wanted))
    if changed:
        loader.load_collections(iter(changed), insert_mode=Methods.upsert)
    if report.collections_removed:  # pgstac's trigger drops their partitions (items) and queryables
        conn.execute("DELETE FROM pgstac.collections WHERE id = ANY(%s)", (report.collections_removed,))


def _changed_items(catalog_dir: Path, hrefs: Hrefs, stored: dict[tuple[str, str], str | None],
                   seen: set[tuple[str, str]], report: LoadReport, force: bool) -> Iterator[dict[str, Any]]:
    for ref in iter_items(catalog_dir):
        item, digest = prepare_item(ref.item, ref.path, hrefs)
        key = (item["collection"], item["id"])
        seen.add(key)
        if key not in stored:
            report.items_added += 1
        elif force or stored[key] != digest:
            report.items_updated += 1
        else:
            report.items_unchanged += 1
            continue
        yield item


def _load_items(loader: Any, conn: psycopg.Connection[Any], catalog_dir: Path, hrefs: Hrefs,
                collection_ids: list[str], report: LoadReport, force: bool) -> None:
    from pypgstac.load import Methods

    stored: dict[tuple[str, str], str | None] = {
        (str(coll), str(iid)): digest for coll, iid, digest in conn.execute(
            "SELECT collection, id, private->>%s FROM pgstac.items WHERE collection = ANY(%s)",
            (HASH_KEY, collection_ids)).fetchall()}
    seen: set[tuple[str, str]] = set()
    loader.load_items(_changed_items(catalog_dir, hrefs, stored, seen, report, force),
                      insert_mode=Methods.delsert, chunksize=CHUNK)
    gone: dict[str, list[str]] = {}
    for coll, iid in set(stored) - seen:
        gone.setdefault(coll, []).append(iid)
    for coll, ids in sorted(gone.items()):
        conn.execute("DELETE FROM pgstac.items WHERE collection = %s AND id = ANY(%s)", (coll, ids))
        report.items_removed += len(ids)


def load_catalog(catalog_dir: str | Path, dsn: str, root_href: str | None = None,
                 asset_href_base: str | None = None, force: bool = False) -> LoadReport:
    """Bring the pgstac database at ``dsn`` in line with the catalogue's index collections and items.

    ``root_href``: URL of the catalogue folder (default: the URL it was indexed for); ``asset_href_base``:
    URL of the INDICES folder (see :class:`~.prepare.Hrefs`). ``force`` rewrites every item, changed or not.
    Raises :class:`InputError` for a folder that is no catalogue, :class:`DatabaseError` (naming the DSN,
    password masked, and the reason) when the database is unreachable, lacks pgstac, or the load fails;
    then nothing changed.
    """
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader

    started = time.perf_counter()
    catalog_dir = Path(catalog_dir).resolve()
    found = _catalog_collections(catalog_dir)
    hrefs = Hrefs.for_catalog(catalog_dir, root_href, asset_href_base)
    wanted = {coll["id"]: prepare_collection(coll, path, hrefs) for path, coll in found}
    report = LoadReport(mask_dsn(dsn))
    conn = connect(dsn)
    db = PgstacDB(dsn=dsn, connection=conn, commit_on_exit=False)
    try:
        pgstac_version(conn, dsn)
        loader = Loader(db)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
            _load_collections(loader, conn, wanted, report)
            report.queryables_changed = sync_queryables(conn, sorted(wanted))
            _load_items(loader, conn, catalog_dir, hrefs, sorted(wanted), report, force)
            index_partitions(conn, sorted(wanted))
    except DatabaseError:
        raise
    except Exception as exc:  # pypgstac raises bare Exception; the transaction is rolled back
        raise DatabaseError(f"loading {catalog_dir} into {report.dsn} failed, nothing changed (rolled back): "
                            f"{type(exc).__name__}: {reason(exc)}") from exc
    finally:
        if db.pool is not None:
            db.pool.close()
        conn.close()
    report.seconds = time.perf_counter() - started
    return report
