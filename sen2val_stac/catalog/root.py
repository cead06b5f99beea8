"""The root ``catalog.json``: links every collection on disk (index collections and the cubes)."""

from __future__ import annotations

import json
import os
from typing import Any

from sen2val_stac.catalog.render import catalog_dict
from sen2val_stac.core import constants as C
from sen2val_stac.core.atomic import write_json


def write_root_catalog(catalog_dir: str, config: dict[str, Any]) -> bool:
    """(Re)write catalog.json linking every ``*/collection.json`` of the catalogue; True if it changed.

    Other commands (the NetCDF cubes collection) add collections the same way, so the root
    catalogue always lists what is on disk.
    """
    collections = []
    for name in sorted(os.listdir(catalog_dir)):
        path = os.path.join(catalog_dir, name, C.COLLECTION_FILE)
        if not name.startswith(".") and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                coll = json.load(f)
            collections.append((f"{name}/{C.COLLECTION_FILE}", coll.get("title") or coll["id"]))
    return write_json(os.path.join(catalog_dir, C.CATALOG_FILE), catalog_dict(collections, config))
