"""Load ``sen2val.yaml``: defaults from ``catalog_templates/config-defaults.yaml``, then the user file.

Every key a user sets must exist in the defaults; an unknown key, a wrong type
or an unreadable file raises :class:`ConfigError` naming the key and the file.
"""

from __future__ import annotations

import copy
import datetime
import os
from pathlib import Path
from typing import Any

import yaml

from sen2val_stac.core.errors import InputError
from sen2val_stac.core.templates import templates_dir


class ConfigError(InputError):
    """A configuration file is unreadable or holds an unknown or mistyped key."""


def defaults() -> dict[str, Any]:
    """Return a fresh copy of the default configuration."""
    with open(templates_dir() / "config-defaults.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _merge(base: dict[str, Any], user: dict[str, Any], path: Path, prefix: str = "") -> None:
    for key, value in user.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"{path}: unknown key '{dotted}'")
        current = base[key]
        if isinstance(current, dict) and current and not _is_free_mapping(dotted):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: key '{dotted}' must be a mapping, got {type(value).__name__}")
            _merge(current, value, path, dotted + ".")
            continue
        if current is not None and value is not None and not _same_kind(current, value):
            raise ConfigError(
                f"{path}: key '{dotted}' must be {type(current).__name__}, got {type(value).__name__} ({value!r})"
            )
        if current is None and value is not None:
            expected = NULL_DEFAULT_TYPES.get(dotted, (str,))
            if not isinstance(value, expected) or isinstance(value, bool):
                names = " or ".join(t.__name__ for t in expected)
                raise ConfigError(f"{path}: key '{dotted}' must be {names}, got {type(value).__name__} ({value!r})")
        base[key] = value


def _is_free_mapping(dotted: str) -> bool:
    """Mappings whose keys are user data (DOI tables, contacts), not configuration keys."""
    return dotted in FREE_MAPPINGS


# Types of the keys whose default is null (any other such key takes a string).
NULL_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {
    "workers": (int,),
    "geoflow.publication_date": (str, datetime.date),
}

# Keys whose values are mappings of user-chosen keys (e.g. ``doi: {NDVI: 10.5281/...}``).
FREE_MAPPINGS: set[str] = {"doi"}


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Return the configuration: defaults overlaid with the YAML file at ``path`` (if any)."""
    config = defaults()
    if path is None:
        return config
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration ({exc.strerror or exc})") from exc
    try:
        user = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(user, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    _merge(config, copy.deepcopy(user), path)
    _resolve_paths(config, path.parent)
    config["_path"] = str(path)
    return config


# Folder keys: a relative value in a config file is relative to that file's folder.
PATH_KEYS = ("indices_dir", "catalog_dir", "footprints.out_dir", "geoflow.out_dir", "metadata.out_dir", "netcdf.out_dir")


def _resolve_paths(config: dict[str, Any], base: Path) -> None:
    for dotted in PATH_KEYS:
        *parents, key = dotted.split(".")
        section = config
        for p in parents:
            section = section[p]
        if section.get(key):
            section[key] = str((base / os.path.expanduser(section[key])).resolve())


def output_dir(config: dict[str, Any], section: str, catalog_dir: str | os.PathLike[str]) -> Path:
    """``<section>.out_dir`` from the config, else a ``<section>`` folder beside the catalogue."""
    configured = config[section].get("out_dir")
    return Path(configured) if configured else Path(catalog_dir).resolve().parent / section
