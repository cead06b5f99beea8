"""What an ISO 19115 record of a dataset says, in one place for both routes (geoflow and native).

:mod:`sen2val_stac.derive.geoflow` writes these facts into geoflow's tables (and, where a table cannot
hold them, into the facts file of the completing action); :mod:`sen2val_stac.derive.records` writes them
as ISO 19139 directly. Both take keywords, contacts, online resources and grid from here.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from sen2val_stac.core.templates import index_definition, load_json, templates_dir
from sen2val_stac.derive.series import DatasetInfo, software_versions

# STAC provider roles -> ISO 19115 CI_RoleCode, for providers other than the organisation (ESA / Copernicus:
# producer and licensor of the Sentinel-2 source data -> originator).
PROVIDER_ROLES = {"producer": "originator", "processor": "processor", "host": "distributor"}
SPDX = "https://spdx.org/licenses/{}.html"


def utc(moment: datetime) -> str:
    """``2022-01-06T07:09:11Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def publication_date(info: DatasetInfo, config: dict[str, Any]) -> str:
    """Publication date of the records: ``geoflow.publication_date``, else the newest item's update."""
    return str(config["geoflow"].get("publication_date") or info.updated.isoformat())


def license_url(config: dict[str, Any]) -> str:
    """SPDX page of the configured licence."""
    return SPDX.format(config["license"])


def keywords(info: DatasetInfo) -> dict[str, dict[str, Any]]:
    """Keyword groups: ``{group: {type, thesaurus, uri, words}}`` (thesaurus/uri '' when none)."""
    tmpl = load_json("metadata/text.json")
    collection = info.collection_keywords or [info.index, *info.keywords]
    return {
        "gemet": {"type": "theme", "thesaurus": "GEMET", "uri": "https://www.eionet.europa.eu/gemet",
                  "words": tmpl["gemet"]},
        "inspire": {"type": "theme", "thesaurus": "INSPIRE themes", "uri": "https://inspire.ec.europa.eu/theme",
                    "words": tmpl["inspire"]},
        "collection": {"type": "theme", "thesaurus": "", "uri": "", "words": list(dict.fromkeys(collection))},
        "places": {"type": "place", "thesaurus": "Geonames", "uri": "", "words": info.places},
        "tiles": {"type": "place", "thesaurus": "MGRS tiles", "uri": "", "words": info.tiles},
    }


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def all_contacts(info: DatasetInfo, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The configured contacts, then the collection's other providers (ESA / Copernicus) as ISO parties."""
    out = [dict(c, roles=list(c.get("roles") or [])) for c in config["contacts"]]
    for provider in info.providers:
        roles = list(dict.fromkeys(PROVIDER_ROLES[r] for r in provider.get("roles", []) if r in PROVIDER_ROLES))
        if roles:
            out.append({"id": _slug(provider["name"]), "organisation": provider["name"],
                        "website": provider.get("url"), "website_name": provider["name"], "roles": roles})
    return out


def online_resources(info: DatasetInfo) -> list[tuple[str, str, str, str]]:
    """``(geoflow relation key, name, description, http(s) URL)``: quicklook, STAC, metadata page, cubes."""
    out = []
    if "thumbnail" in info.links:
        out.append(("thumbnail", "Quicklook", f"Latest quicklook {info.last.isoformat()}", info.links["thumbnail"]))
    if "STAC collection" in info.links:
        out.append(("http", "STAC collection", f"STAC collection of {info.index}", info.links["STAC collection"]))
    if "STAC item" in info.links:
        out.append(("http", "STAC item", f"Latest STAC item {info.last.isoformat()}", info.links["STAC item"]))
    if info.md_link:
        out.append(("http", "Metadata", "Metadata page", info.md_link))
    for name, url in info.netcdf:
        out.append(("download", name.rsplit(".", 1)[0], "NetCDF-4 time series cube", url))
    return out


def grid(info: DatasetInfo) -> dict[str, Any]:
    """Grid spatial representation: rows and columns of the tiles' grid at the index resolution (metres)."""
    rows, columns = info.shape
    return {"dimensions": [{"name": "row", "size": rows, "resolution": info.resolution, "uom": "m"},
                           {"name": "column", "size": columns, "resolution": info.resolution, "uom": "m"}],
            "cell_geometry": "area"}


def processes(info: DatasetInfo) -> list[tuple[str, str]]:
    """Lineage process steps ``(rationale, description)``, with the software versions of the items."""
    tmpl = load_json("metadata/text.json")
    definition = index_definition(info.index)
    return [(name, desc.format(formula=definition.get("formula") or "its formula", index=info.index,
                               masks=" / ".join(info.masks) or "none", **software_versions(info)))
            for name, desc in tmpl["processes"]]


def template_bytes(name: str) -> bytes:
    """A file of ``catalog_templates/`` as bytes."""
    return (templates_dir() / name).read_bytes()
