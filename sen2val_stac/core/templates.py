"""Access to ``catalog_templates/``: index definitions, collection fragments and metadata text."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent.parent


@functools.cache
def templates_dir() -> Path:
    """Return the ``catalog_templates`` directory (inside the wheel, or at the top of a source tree)."""
    for candidate in (_PACKAGE / "catalog_templates", _PACKAGE.parent / "catalog_templates"):
        if (candidate / "indices").is_dir():
            return candidate
    raise FileNotFoundError("catalog_templates/ not found beside the sen2val_stac package")


def load_json(name: str) -> Any:
    """Load a JSON file from ``catalog_templates/`` (a fresh object each call)."""
    return json.loads(_read_text(name))


@functools.cache
def _read_text(name: str) -> str:
    return (templates_dir() / name).read_text(encoding="utf-8")


def _substitute(value: Any, index: str) -> Any:
    if isinstance(value, str):
        return value.replace("{index}", index)
    if isinstance(value, list):
        return [_substitute(v, index) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, index) for k, v in value.items()}
    return value


def index_definition(index: str) -> dict[str, Any]:
    """Return the definition of ``index`` (e.g. ``NDVI``), or the generic one with the name filled in.

    Keys: ``index``, ``title``, ``description``, ``formula``, ``bands``, ``scale``, ``offset``,
    ``unit``, ``valid_range``, ``standard_name``, ``long_name``, ``keywords``, ``known``.
    """
    path = templates_dir() / "indices" / f"{index.upper()}.json"
    if path.is_file():
        data: dict[str, Any] = load_json(f"indices/{index.upper()}.json")
        data["known"] = True
    else:
        data = _substitute(load_json("indices/generic.json"), index.upper())
        data["known"] = False
    data["index"] = index.upper()
    return data


def known_indices() -> list[str]:
    """Names of the indices that have their own definition file."""
    return sorted(p.stem for p in (templates_dir() / "indices").glob("*.json") if p.stem != "generic")
