"""Atomic writes: a temporary file in the destination folder, fsync, then ``os.replace``.

A run killed at any moment leaves either the old or the new version of a file, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any


def write_atomic(path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically, creating parent folders."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
