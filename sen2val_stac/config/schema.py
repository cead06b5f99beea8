"""The JSON Schema of ``sen2val.yaml``, written from the models, with the defaults of the defaults file.

Every key of a user's file is optional (a key left out keeps its default), so sections carry no
``required`` list; list elements keep theirs (a contact needs an ``id``). Committed as
``catalog_templates/sen2val.schema.json``; regenerate with::

    sen2val-stac init-config --schema --force catalog_templates/sen2val.schema.json
"""

from __future__ import annotations

import json
from typing import Any

from sen2val_stac.config.load import defaults
from sen2val_stac.config.model import Settings

SCHEMA_FILE = "sen2val.schema.json"
REGENERATE = f"sen2val-stac init-config --schema --force catalog_templates/{SCHEMA_FILE}"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _target(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    return defs[ref.rsplit("/", 1)[-1]] if ref.startswith("#/$defs/") else node


def _annotate(node: dict[str, Any], values: dict[str, Any], defs: dict[str, Any]) -> None:
    """Sections reached from the root: drop ``required``, give each key its default and no generated title."""
    node.pop("required", None)
    for key, prop in node.get("properties", {}).items():
        prop.pop("title", None)
        if key in values:
            prop["default"] = values[key]
        target = _target(prop, defs)
        if target is not prop and isinstance(values.get(key), dict) and "properties" in target:
            _annotate(target, values[key], defs)


def _untitle(node: dict[str, Any]) -> None:
    """Drop the titles pydantic generates for the properties of list elements."""
    for prop in node.get("properties", {}).values():
        prop.pop("title", None)


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a user's configuration file."""
    schema = Settings.model_json_schema()
    defs = schema.get("$defs", {})
    for definition in defs.values():
        _untitle(definition)
    _annotate(schema, defaults(), defs)
    schema["title"] = "sen2val.yaml"
    return {"$schema": DIALECT, **schema}


def schema_text() -> str:
    """The schema as the committed file holds it (2-space indented JSON, final newline)."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"
