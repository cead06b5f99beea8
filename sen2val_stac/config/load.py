"""Read ``sen2val.yaml`` over ``catalog_templates/config-defaults.yaml`` and validate it with the models.

Light on purpose (``sen2val-stac --help`` imports it through the commands): pydantic and the models are
imported only when a configuration is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sen2val_stac.core.errors import InputError
from sen2val_stac.core.templates import templates_dir

if TYPE_CHECKING:
    from sen2val_stac.config.model import Settings

DEFAULTS_FILE = "config-defaults.yaml"


class ConfigError(InputError):
    """A configuration file is unreadable or holds an unknown key or a wrong value (exit status 2)."""


def defaults_path() -> Path:
    """``catalog_templates/config-defaults.yaml``: every key and its default."""
    return templates_dir() / DEFAULTS_FILE


def defaults() -> dict[str, Any]:
    """Return a fresh copy of the default configuration, as written in the defaults file."""
    with open(defaults_path(), encoding="utf-8") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def _read_user(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration ({exc.strerror or exc})") from exc
    try:
        user = yaml.safe_load(text) or {}
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date such as 2023-13-01
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(user, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return user


def _load(path: str | os.PathLike[str] | None) -> tuple[Settings, dict[str, Any]]:
    from sen2val_stac.config.check import validate

    user_path = None if path is None else Path(path)
    user = {} if user_path is None else _read_user(user_path)
    try:
        settings, loose = validate(user, defaults(), str(user_path), str(defaults_path()),
                                   None if user_path is None else user_path.parent)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings._source = None if user_path is None else str(user_path)
    return settings, loose


def load_settings(path: str | os.PathLike[str] | None) -> Settings:
    """The typed configuration: the defaults overlaid with the YAML file at ``path`` (if any), validated.

    Raises :class:`ConfigError` naming the file and the dotted key of every wrong value. Relative folders
    are resolved against the file's folder. For new code; ``settings.netcdf.complevel`` is an ``int``.
    """
    return _load(path)[0]


def load_config(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The same validated configuration as :func:`load_settings`, as the plain nested dict callers index.

    Key names and values are the defaults' and the file's (``config["netcdf"]["chunks"]``); ``_path`` holds
    the file's path when one was read.
    """
    from sen2val_stac.config.check import as_dict

    settings, loose = _load(path)
    config = as_dict(settings, loose)
    if settings.source is not None:
        config["_path"] = settings.source
    return config


def output_dir(config: dict[str, Any], section: str, catalog_dir: str | os.PathLike[str]) -> Path:
    """``<section>.out_dir`` from the config, else a ``<section>`` folder beside the catalogue."""
    configured = config[section].get("out_dir")
    return Path(configured) if configured else Path(catalog_dir).resolve().parent / section
