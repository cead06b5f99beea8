"""PostgreSQL connection strings: shown with the password masked, connected to with errors that say why."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from sen2val_stac.core.errors import InputError

if TYPE_CHECKING:
    import psycopg

MASK = "***"
CONNECT_TIMEOUT_S = 10


class DatabaseError(InputError):
    """The database cannot be used: unreachable, refused, without pgstac, or a load failed (nothing changed)."""


def mask_dsn(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***`` (URL and ``key=value`` forms)."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            if ":" in userinfo:
                netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
        query = re.sub(r"(^|&)(password=)[^&]*", rf"\1\2{MASK}", parts.query)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", rf"\1{MASK}", dsn)


def reason(exc: BaseException) -> str:
    """The first lines of a driver error, on one line (libpq spreads its reasons over several)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return "; ".join(lines[:3]) or type(exc).__name__


def connect(dsn: str) -> psycopg.Connection[Any]:
    """An autocommit connection with ``search_path`` pgstac, public; :class:`DatabaseError` naming the DSN if not."""
    import psycopg

    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                               application_name="sen2val-stac")
    except (psycopg.Error, ValueError) as exc:  # ValueError: a DSN libpq cannot parse
        raise DatabaseError(f"cannot connect to {mask_dsn(dsn)}: {reason(exc)}") from exc
    conn.execute("SET search_path TO pgstac, public")
    return conn


def pgstac_version(conn: psycopg.Connection[Any], dsn: str) -> str:
    """The pgstac schema version of the database; :class:`DatabaseError` when it has none or another one."""
    from pypgstac.version import __version__

    row = conn.execute("SELECT to_regclass('pgstac.migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        raise DatabaseError(f"{mask_dsn(dsn)} has no pgstac schema (an empty database?): "
                            f"run `sen2val-stac pgstac migrate --dsn ...` first")
    row = conn.execute("SELECT version FROM pgstac.migrations ORDER BY datetime DESC, version DESC LIMIT 1").fetchone()
    version = str(row[0]) if row else ""
    if version.split(".")[:2] != __version__.split(".")[:2]:
        raise DatabaseError(f"{mask_dsn(dsn)} holds pgstac {version or '(no version)'}, this pypgstac is "
                            f"{__version__}: run `sen2val-stac pgstac migrate --dsn ...`")
    return version
