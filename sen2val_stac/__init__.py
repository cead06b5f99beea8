"""sen2val-stac: Sen2Chain index rasters as a static STAC catalogue, and everything derived from it.

The public Python API, imported lazily (``import sen2val_stac`` stays light)::

    import sen2val_stac as s2v
    config = s2v.load_config("sen2val.yaml")             # validated configuration (None: the defaults)
    report = s2v.index_tree("INDICES", "catalog", config)  # incremental STAC indexing
    result = s2v.validate_catalog("catalog")               # JSON-schema validation, every file
    items = s2v.query_items("catalog", index="NDVI", start="2022-01-01")   # list of ItemRef
    frame = s2v.query_frame("catalog", tile="40KCB")       # GeoDataFrame of the items
    chain = s2v.run_chain(config, ("index", "footprints", "netcdf", "geoflow", "metadata"))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it
_API = {
    "load_config": "sen2val_stac.config",
    "index_tree": "sen2val_stac.catalog.indexer",
    "validate_catalog": "sen2val_stac.validate.validation",
    "query_items": "sen2val_stac.catalog.query",
    "query_frame": "sen2val_stac.catalog.query",
    "run_chain": "sen2val_stac.pipeline",
    "build_demo": "sen2val_stac.demo.build",
    "Sen2valError": "sen2val_stac.core.errors",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    """Import an API function on first use."""
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sen2val_stac' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
