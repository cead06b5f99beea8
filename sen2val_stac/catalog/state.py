"""The indexer's state: ``CATALOG/.sen2val/state.sqlite``, one row per item with its record.

A record (:class:`~sen2val_stac.tree.record.Record`) holds every fact an item needs, so the catalogue can be
re-rendered (new configuration, new templates) without reading a raster. Records live in SQLite, not in
memory: the indexer streams them, and its memory stays flat with the number of products (docs/performance.md).

Writes happen in one transaction opened by the first change and committed by :meth:`StateStore.commit`,
which the indexer calls after every catalogue file is written: a run killed before it leaves the previous
state (SQLite rolls the journal back), and the next run redoes what the state does not record. A run that
changes nothing never opens a transaction, so the file is not touched.

A catalogue indexed by an earlier version (``state.json``) is imported on first open and the JSON removed
at the first commit: nothing is re-read.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sen2val_stac.catalog.read import parse_json
from sen2val_stac.core import constants as C

# Version of the state's content: a state of another version is ignored (every product is read again).
STATE_VERSION = 2
LEGACY_STATE_VERSION = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, fp TEXT NOT NULL, record_version INTEGER NOT NULL,"
    " idx TEXT NOT NULL, tile TEXT NOT NULL, record BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS failed (id TEXT PRIMARY KEY, fp TEXT NOT NULL, entry BLOB NOT NULL)",
)


@dataclass(frozen=True, slots=True)
class Kept:
    """What the indexer needs to know of a stored item before reading the tree: its fingerprint and place."""

    fp: str
    record_version: int
    index: str
    tile: str


def state_path(catalog_dir: str) -> str:
    """``CATALOG/.sen2val/state.sqlite``."""
    return os.path.join(catalog_dir, C.STATE_DIR, C.STATE_FILE)


def _dumps(value: Any) -> bytes:
    """Compact JSON (NaN kept as json writes it: statistics of an empty band)."""
    return json.dumps(value, separators=(",", ":")).encode()


class StateStore:
    """The state of one catalogue (open with :meth:`open`; close, or use as a context manager)."""

    def __init__(self, catalog_dir: str) -> None:
        self.catalog_dir = catalog_dir
        self.path = state_path(catalog_dir)
        self._legacy = os.path.join(catalog_dir, C.STATE_DIR, C.LEGACY_STATE_FILE)
        exists = os.path.exists(self.path)
        self._db: sqlite3.Connection | None = None
        self._valid = False
        self._in_transaction = False
        self.changed = False
        if exists:
            self._connect()
            self._valid = self._read_version() == STATE_VERSION
        if not self._valid:
            self._import_legacy()

    @classmethod
    def open(cls, catalog_dir: str) -> StateStore:
        """The state of ``catalog_dir`` (empty when missing, unreadable or of another version)."""
        return cls(catalog_dir)

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)  # transactions are ours
        return self._db

    def _read_version(self) -> int | None:
        try:
            row = self._connect().execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        except sqlite3.DatabaseError:  # no table yet (a run killed before its first commit), or not a database
            return None
        return int(row[0]) if row else None

    def meta(self, key: str) -> str | None:
        """A stored setting (``render``: the render signature; ``indices_rel``: the tree seen from the catalogue)."""
        if not self._valid:
            return None
        row = self._connect().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def kept(self) -> dict[str, Kept]:
        """Every stored item's fingerprint and place, by item id (about 200 bytes an item)."""
        if not self._valid:
            return {}
        rows = self._connect().execute("SELECT id, fp, record_version, idx, tile FROM items")
        return {row[0]: Kept(*row[1:]) for row in rows}

    def failed(self) -> dict[str, dict[str, Any]]:
        """Products that could not be indexed, by item id: ``{"fp", "path", "reason"}`` (few)."""
        if not self._valid:
            return {}
        rows = self._connect().execute("SELECT id, entry FROM failed ORDER BY id")
        return {row[0]: parse_json(row[1]) for row in rows}

    def get(self, item_id: str) -> dict[str, Any] | None:
        """The record of ``item_id``, or None."""
        if not self._valid:
            return None
        row = self._connect().execute("SELECT record FROM items WHERE id = ?", (item_id,)).fetchone()
        return parse_json(row[0]) if row else None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record (changes of the open transaction included), sorted by item id, one at a time."""
        if not self._valid:
            return
        cursor = self._connect().execute("SELECT record FROM items ORDER BY id")
        while rows := cursor.fetchmany(256):
            for (payload,) in rows:
                yield parse_json(payload)

    # -- writing ---------------------------------------------------------------------------------------

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        db = self._connect()
        if not self._in_transaction:
            db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            if not self._valid:  # a fresh state: an empty schema in the same transaction
                for table in ("meta", "items", "failed"):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute("INSERT INTO meta VALUES ('version', ?)", (str(STATE_VERSION),))
                self._valid = True
        db.execute(sql, params)
        self.changed = True

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting (written only when it differs)."""
        if self.meta(key) != value:
            self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def put(self, record: dict[str, Any]) -> None:
        """Store (or replace) the record of an item; no longer failed."""
        self._write("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?)",
                    (record["item_id"], record["fp"], record["record_version"], record["index"], record["tile"],
                     _dumps(record)))
        self._write("DELETE FROM failed WHERE id = ?", (record["item_id"],))

    def put_failed(self, item_id: str, entry: dict[str, Any]) -> None:
        """Store why the product of ``item_id`` (``entry["fp"]``) could not be indexed; its record goes."""
        self._write("INSERT OR REPLACE INTO failed VALUES (?, ?, ?)", (item_id, entry["fp"], _dumps(entry)))
        self._write("DELETE FROM items WHERE id = ?", (item_id,))

    def delete(self, item_id: str) -> None:
        """Forget an item (record and failure)."""
        self._write("DELETE FROM items WHERE id = ?", (item_id,))
        self._write("DELETE FROM failed WHERE id = ?", (item_id,))

    def commit(self) -> None:
        """Make every change of this run durable (in one step); drop an imported ``state.json``."""
        if self._in_transaction and self._db is not None:
            self._db.execute("COMMIT")
            self._in_transaction = False
        if self._valid and os.path.exists(self._legacy):
            os.remove(self._legacy)

    def close(self) -> None:
        """Close the database; uncommitted changes are rolled back."""
        if self._db is not None:
            if self._in_transaction:
                self._db.execute("ROLLBACK")
                self._in_transaction = False
            self._db.close()
            self._db = None

    # -- the state of earlier versions -------------------------------------------------------------------

    def _import_legacy(self) -> None:
        """Load ``state.json`` (version 1) into the open transaction, so its records are kept."""
        try:
            with open(self._legacy, encoding="utf-8") as f:
                legacy = json.load(f)
        except (OSError, ValueError):
            return
        if not isinstance(legacy, dict) or legacy.get("version") != LEGACY_STATE_VERSION:
            return
        for record in legacy.get("items", {}).values():
            self.put(record)
        for item_id, entry in legacy.get("failed", {}).items():
            self.put_failed(item_id, entry)
        for key in ("render", "indices_rel"):
            if legacy.get(key):
                self.set_meta(key, str(legacy[key]))


def load_state(catalog_dir: str) -> dict[str, Any]:
    """The whole state as one dict (``version``, ``render``, ``indices_rel``, ``items``, ``failed``).

    For tools and tests on small catalogues: the indexer itself streams the records.
    """
    with StateStore.open(catalog_dir) as store:
        return {"version": STATE_VERSION, "render": store.meta("render"), "indices_rel": store.meta("indices_rel"),
                "items": {r["item_id"]: r for r in store.records()}, "failed": store.failed()}


__all__ = ["STATE_VERSION", "Kept", "StateStore", "load_state", "state_path"]
