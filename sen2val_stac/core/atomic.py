"""Atomic writes: a temporary file in the destination folder, fsync, then ``os.replace``.

A run killed at any moment leaves either the old or the new version of a file, never half of one, and at
worst a temporary file named ``.tmp-<pid>-*`` beside it, which :func:`remove_leftovers` (called by the next
``run``) deletes once that process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".tmp-"
"""Every temporary file or folder this package writes in an output folder starts with it."""
_LEFTOVER = re.compile(r"^\.tmp-(?:layers-)?([0-9]+)-")


def temp_prefix() -> str:
    """Prefix of this process's temporary files: ``.tmp-<pid>-``, so that a later run can tell a dead run's."""
    return f"{TEMP_PREFIX}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(folder: str | Path) -> list[str]:
    """Delete, below ``folder``, the temporary files and folders of processes that died mid-write; their paths.

    Only names this package writes (``.tmp-<pid>-*``, ``.tmp-layers-<pid>-*``) whose process is gone are
    touched: a temporary file of a live run (another command writing at the same moment) stays.
    """
    removed: list[str] = []
    for parent, dirs, files in os.walk(folder):
        for name in [*files, *dirs]:
            match = _LEFTOVER.match(name)
            if not match or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
                continue
            path = os.path.join(parent, name)
            if name in dirs:
                shutil.rmtree(path, ignore_errors=True)
                dirs.remove(name)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            removed.append(path)
    return sorted(removed)


def write_atomic(path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically, creating parent folders."""
    write_chunks_atomic(path, (payload,))


def write_chunks_atomic(path: str, chunks: Iterable[bytes], keep_if_equal: bool = False) -> bool:
    """Write the concatenation of ``chunks`` to ``path`` atomically, creating parent folders; True if written.

    ``keep_if_equal``: compare with the file already at ``path`` as the chunks pass, and leave it untouched
    (return False) when its bytes are the same. The payload is never held whole.
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    old = None
    if keep_if_equal:
        with contextlib.suppress(FileNotFoundError):
            old = open(path, "rb")  # noqa: SIM115 (closed below)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(), suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            same = old is not None
            for chunk in chunks:
                f.write(chunk)
                same = same and old is not None and old.read(len(chunk)) == chunk
            if same and old is not None and not old.read(1):
                f.close()
                os.unlink(tmp)
                return False
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return True
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        if old is not None:
            old.close()


def write_if_changed(path: str, payload: bytes) -> bool:
    """Write ``payload`` atomically unless ``path`` already holds exactly these bytes; True if written."""
    try:
        with open(path, "rb") as f:
            if f.read() == payload:
                return False
    except FileNotFoundError:
        pass
    write_atomic(path, payload)
    return True


def dump_json(obj: Any) -> bytes:
    """Deterministic, readable JSON bytes (2-space indent, UTF-8, trailing newline)."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_json(path: str, obj: Any) -> bool:
    """Write ``obj`` as JSON at ``path`` if its bytes changed; True if written."""
    return write_if_changed(path, dump_json(obj))
