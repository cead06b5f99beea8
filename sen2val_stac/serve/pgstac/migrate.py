"""Install or upgrade the pgstac schema (pypgstac's migrations) in a database."""

from __future__ import annotations

from sen2val_stac.serve.pgstac.dsn import DatabaseError, connect, mask_dsn, reason


def migrate(dsn: str) -> str:
    """Bring the database at ``dsn`` to this pypgstac's schema version (needs PostGIS); return the version."""
    from pypgstac.db import PgstacDB
    from pypgstac.migrate import Migrate

    connect(dsn).close()  # a clear error for an unreachable database before pypgstac's retries
    db = PgstacDB(dsn=dsn)
    try:
        return str(Migrate(db).run_migration())
    except Exception as exc:  # pypgstac raises bare Exception
        raise DatabaseError(f"pgstac migration of {mask_dsn(dsn)} failed: {reason(exc)}") from exc
    finally:
        pool = db.pool
        db.disconnect()
        if pool is not None:
            pool.close()
