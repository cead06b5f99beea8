"""The configuration (``sen2val.yaml``), validated by pydantic models at load time.

- :func:`load_config` returns the plain nested dict every command reads (``config["netcdf"]["chunks"]``);
- :func:`load_settings` returns the typed :class:`~sen2val_stac.config.model.Settings` (for new code);
- defaults: ``catalog_templates/config-defaults.yaml``; types and rules: :mod:`sen2val_stac.config.model`;
  JSON Schema: :mod:`sen2val_stac.config.schema` (``sen2val-stac init-config --schema FILE``).

A wrong value, an unknown key or an unreadable file raises :class:`ConfigError` naming the file and the
dotted key, e.g. ``sen2val.yaml: key 'netcdf.complevel' must be between 0 and 9 (got 12)``.
"""

from __future__ import annotations

from typing import Any

from sen2val_stac.config.load import (
    DEFAULTS_FILE,
    ConfigError,
    defaults,
    defaults_path,
    load_config,
    load_settings,
    output_dir,
)


def __getattr__(name: str) -> Any:
    if name == "FREE_MAPPINGS":  # derived from the models, imported only when asked for
        from sen2val_stac.config.check import free_mappings

        return free_mappings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULTS_FILE", "ConfigError", "defaults", "defaults_path", "load_config", "load_settings", "output_dir"]
