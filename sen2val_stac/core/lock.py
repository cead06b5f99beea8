"""An exclusive lock per catalogue, so two runs (cron overlaps) never write one catalogue at once."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sen2val_stac.core.constants import STATE_DIR
from sen2val_stac.core.errors import Sen2valError

LOCK_FILE = "lock"


class CatalogLocked(Sen2valError, RuntimeError):
    """Another process holds the catalogue lock (exit status 3)."""

    exit_code = 3


@contextmanager
def catalog_lock(catalog_dir: str, wait: float | None = None) -> Iterator[None]:
    """Hold ``<catalog>/.sen2val/lock`` (``flock``); wait up to ``wait`` seconds (None: forever).

    The kernel releases the lock when the process dies, so a killed run never leaves a stale lock.
    """
    folder = os.path.join(catalog_dir, STATE_DIR)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise CatalogLocked(f"{catalog_dir}: catalogue is locked by another run (pid {holder}); retry later or give --wait SECONDS") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
