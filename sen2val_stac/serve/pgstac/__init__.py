"""The catalogue in pgstac (PostgreSQL + PostGIS), for stac-fastapi-pgstac at scale.

:func:`load_catalog` loads the index collections and items incrementally in one transaction;
:func:`migrate` installs the schema. Needs ``pypgstac[psycopg]`` (imported when called).
"""

from sen2val_stac.serve.pgstac.dsn import DatabaseError, mask_dsn
from sen2val_stac.serve.pgstac.load import LoadReport, load_catalog
from sen2val_stac.serve.pgstac.migrate import migrate

__all__ = ["DatabaseError", "LoadReport", "load_catalog", "mask_dsn", "migrate"]
