"""Identity of a published dataset: its identifier, metadata link and DOI, shared by every derivation."""

from __future__ import annotations

from typing import Any


def series_identifier(index: str, tile: str) -> str:
    """The series identifier shared with geoflow and the metadata records: ``data_40KCB_NDVI_SEN2CHAIN``."""
    return f"data_{tile}_{index}_SEN2CHAIN"


def md_link(config: dict[str, Any], index: str, tile: str) -> str:
    """Metadata link of a series from ``md_link_template`` ('' when unset)."""
    template = config.get("md_link_template")
    if not template:
        return ""
    return str(template).format(identifier=series_identifier(index, tile), index=index, tile=tile)


def doi(config: dict[str, Any], index: str, tile: str | None = None) -> str:
    """DOI of a series (``<INDEX>_<TILE>`` key) or of an index (``<INDEX>`` key); '' when none."""
    table = config.get("doi") or {}
    return str(table.get(f"{index}_{tile}") or table.get(index) or "")
