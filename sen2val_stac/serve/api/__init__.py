"""The embedded STAC API: stac-fastapi over the catalogue's stac-geoparquet index (``CATALOG/items.parquet``).

Modules, in the order a request meets them:

- :mod:`.app`: the ASGI app (stac-fastapi's ``StacApi`` with the static files mounted behind it) and the
  uvicorn server of ``sen2val-stac serve --api``.
- :mod:`.backend`: the stac-fastapi client (``BaseCoreClient``, ``BaseFiltersClient``): requests in, STAC JSON out.
- :mod:`.search`: search parameters (bbox, intersects, datetime, ids, collections, CQL2 filter, sortby, token)
  to one DuckDB query; bad values raise :class:`.search.BadParameter` naming the parameter (400).
- :mod:`.store`: the in-memory snapshot of the index (a DuckDB table, the shapely geometries and their
  STRtree, the collections), reloaded when ``items.parquet`` or a collection changes.
- :mod:`.links`: items and collections as the API serves them (absolute links and asset hrefs).

Everything here imports fastapi, duckdb and shapely: only ``serve --api`` imports this package.
"""
