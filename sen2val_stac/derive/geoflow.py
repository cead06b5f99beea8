"""Write what the R package geoflow reads: entities.csv, contacts.csv and workflow.json.

Cell grammar (geoflow's): parts ``key:value`` joined by ``_`` + newline; values split on commas
outside double quotes; ``[description]`` and ``@uri`` suffixes; ``@`` always splits, so free text
never holds one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from sen2val_stac.core.atomic import write_if_changed
from sen2val_stac.core.templates import index_definition, load_json
from sen2val_stac.derive.series import DatasetInfo, datasets, software_versions

ENTITY_COLUMNS = ["Identifier", "Title", "Description", "Subject", "Creator", "Date", "Type", "Language",
                  "SpatialCoverage", "TemporalCoverage", "Relation", "Rights", "Provenance", "Format", "Data"]
CONTACT_COLUMNS = ["Identifier", "Email", "OrganizationName", "PositionName", "LastName", "FirstName",
                   "PostalAddress", "PostalCode", "City", "Country", "Voice", "Facsimile", "WebsiteUrl", "WebsiteName"]
SEP = "_\n"
CONTACT_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class GeoflowError(ValueError):
    """A value cannot be written in geoflow's grammar (e.g. a bad contact id)."""


def text(value: str) -> str:
    """Free text as one geoflow value: no ``@`` (it always splits), quoted when it holds ``:`` or ``,``."""
    value = " ".join(str(value).replace("@", " at ").replace('"', "'").split())
    return f'"{value}"' if any(c in value for c in ':,[]') else value


def cell(*parts: tuple[str, str]) -> str:
    """Join ``(key, value)`` parts into a cell."""
    return SEP.join(f"{k}:{v}" for k, v in parts if v not in (None, ""))


def label(value: str) -> str:
    """A relation name or description: no characters that the grammar splits on."""
    return re.sub(r"[@,:\[\]\"_]", " ", value).strip()


def _contact_roles(config: dict[str, Any]) -> str:
    roles: dict[str, list[str]] = {}
    for contact in config["contacts"]:
        if not CONTACT_ID.match(str(contact.get("id", ""))):
            raise GeoflowError(f"contact id {contact.get('id')!r}: use letters, digits, '.', '-' and '_' only")
        for role in contact.get("roles", []):
            roles.setdefault(role, []).append(contact["id"])
    return cell(*[(role, ",".join(ids)) for role, ids in roles.items()])


def entity_row(info: DatasetInfo, config: dict[str, Any]) -> dict[str, str]:
    """One row of the entity table."""
    tmpl = load_json("metadata/text.json")
    definition = index_definition(info.index)
    versions = software_versions(info)
    publication = str(config["geoflow"].get("publication_date") or info.updated.isoformat())
    subject = [
        ("theme[GEMET]@https://www.eionet.europa.eu/gemet", ",".join(text(k) for k in tmpl["gemet"])),
        ("theme[INSPIRE themes]", ",".join(text(k) for k in tmpl["inspire"])),
        ("theme[Sen2Chain]", ",".join(text(k) for k in dict.fromkeys([info.index, *info.keywords, "Sentinel-2"]))),
        ("place[Geonames]", ",".join(text(p) for p in info.places)),
        ("place[MGRS tiles]", ",".join(info.tiles)),
        ("topic", tmpl["topic"]),
    ]
    relation = []
    if "thumbnail" in info.links:
        relation.append(("thumbnail", f"Quicklook[{label('Latest quicklook ' + info.last.isoformat())}]@{info.links['thumbnail']}"))
    relation.append(("http", f"STAC collection[{label('STAC collection of ' + info.index)}]@{info.links['STAC collection']}"))
    relation.append(("http", f"STAC item[{label('Latest STAC item ' + info.last.isoformat())}]@{info.links['STAC item']}"))
    if info.md_link:
        relation.append(("http", f"Metadata[Metadata page]@{info.md_link}"))
    if info.doi:
        relation.append(("http", f"DOI[Digital Object Identifier]@https://doi.org/{info.doi}"))
    for name, url in info.netcdf:
        relation.append(("download", f"{label(os.path.splitext(name)[0])}[NetCDF-4 time series cube]@{url}"))
    processes = [(p[0], p[1].format(formula=definition.get("formula") or "its formula", index=info.index,
                                    masks=", ".join(info.masks) or "none", **versions)) for p in tmpl["processes"]]
    if info.netcdf:
        data = cell(("access", "default"), ("source", ",".join(f"{n}@{u}" for n, u in info.netcdf)),
                    ("sourceType", "nc"), ("spatialRepresentationType", "grid"), ("upload", "false"))
    else:
        data = cell(("access", "default"), ("source", f"collection.json@{info.links['STAC collection']}"),
                    ("sourceType", "other"), ("spatialRepresentationType", "grid"), ("upload", "false"))
    return {
        "Identifier": cell(("id", info.identifier), ("doi", info.doi)),
        "Title": cell(("title", text(info.title))),
        "Description": cell(("abstract", text(info.abstract)), ("purpose", text(tmpl["purpose"]))),
        "Subject": cell(*subject),
        "Creator": _contact_roles(config),
        "Date": cell(("creation", info.created.isoformat()), ("publication", publication),
                     ("revision", info.updated.isoformat())),
        "Type": cell(("generic", "dataset"), ("zenodoResourceType", "dataset")),
        "Language": "eng",
        "SpatialCoverage": f"SRID=4326;{info.wkt}",
        "TemporalCoverage": f"{info.first.isoformat()}/{info.last.isoformat()}",
        "Relation": cell(*relation),
        "Rights": cell(("license", config["license"]), ("useLimitation", text(tmpl["use_limitation"])),
                       ("accessRight", tmpl["access_right"])),
        "Provenance": cell(("statement", text(tmpl["statement"])),
                           *[("process", f"{label(name)}[{label(desc)}]") for name, desc in processes]),
        "Format": cell(("resource", "image/jp2"),
                       ("distribution", "application/x-netcdf[NetCDF-4]" if info.netcdf else "application/json[STAC]")),
        "Data": data,
    }


def contact_rows(config: dict[str, Any]) -> list[dict[str, str]]:
    """The contact table."""
    keys = ["id", "email", "organisation", "position", "last_name", "first_name", "address", "postal_code",
            "city", "country", "phone", None, "website", "website_name"]
    rows = []
    for contact in config["contacts"]:
        rows.append({col: "" if key is None or contact.get(key) is None else str(contact[key])
                     for col, key in zip(CONTACT_COLUMNS, keys)})
    return rows


def workflow(config: dict[str, Any]) -> dict[str, Any]:
    """The geoflow workflow: CSV handlers, the software and actions enabled in the config."""
    tmpl = load_json("metadata/geoflow-workflow.json")
    g = config["geoflow"]
    fill = {"organisation": config["organisation"]["name"], "csw_url": g["csw_url"],
            "geonetwork_url": g["geonetwork_url"], "zenodo_url": g["zenodo_url"]}
    def subst(value: Any) -> Any:
        if isinstance(value, str) and "{{" not in value:
            return value.format(**fill)
        if isinstance(value, dict):
            return {k: subst(v) for k, v in value.items()}
        return value
    enabled = [name for name, on in g["actions"].items() if on]
    return {
        "profile": subst(tmpl["profile"]),
        "metadata": tmpl["metadata"],
        "software": [subst(tmpl["software"][name]) for name in ("csw", "geonetwork", "zenodo") if name in enabled],
        "actions": [tmpl["actions"][name] for name in ("iso19115", "csw", "geonetwork", "zenodo") if name in enabled],
    }


def _csv(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_geoflow(catalog_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], config: dict[str, Any],
                  per_index: bool | None = None) -> dict[str, Path]:
    """Write entities.csv, contacts.csv and workflow.json into ``out_dir``; return their paths."""
    per_index = config["geoflow"]["per_index"] if per_index is None else per_index
    infos = datasets(catalog_dir, config, per_index=per_index)
    out = Path(out_dir)
    files = {"entities": out / "entities.csv", "contacts": out / "contacts.csv", "workflow": out / "workflow.json"}
    write_if_changed(str(files["entities"]), _csv([entity_row(i, config) for i in infos], ENTITY_COLUMNS))
    write_if_changed(str(files["contacts"]), _csv(contact_rows(config), CONTACT_COLUMNS))
    write_if_changed(str(files["workflow"]), (json.dumps(workflow(config), indent=2, ensure_ascii=False) + "\n").encode())
    return files


__all__ = ["ENTITY_COLUMNS", "CONTACT_COLUMNS", "GeoflowError", "write_geoflow", "entity_row"]
