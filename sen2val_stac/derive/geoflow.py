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

from sen2val_stac.core import media_types
from sen2val_stac.core.atomic import write_if_changed
from sen2val_stac.core.errors import InputError
from sen2val_stac.core.templates import load_json
from sen2val_stac.derive.facts import (
    all_contacts,
    keywords,
    online_resources,
    processes,
    publication_date,
    template_bytes,
    utc,
)
from sen2val_stac.derive.iso19139 import complement_fragments
from sen2val_stac.derive.series import DatasetInfo, datasets

ENTITY_COLUMNS = ["Identifier", "Title", "Description", "Subject", "Creator", "Date", "Type", "Language",
                  "SpatialCoverage", "TemporalCoverage", "Relation", "Rights", "Provenance", "Format", "Data"]
CONTACT_COLUMNS = ["Identifier", "Email", "OrganizationName", "PositionName", "LastName", "FirstName",
                   "PostalAddress", "PostalCode", "City", "Country", "Voice", "Facsimile", "WebsiteUrl", "WebsiteName"]
SEP = "_\n"
COMPLETE_SCRIPT = "sen2val_complete_iso_19115.R"
FACTS_FILE = "sen2val-iso-facts.json"
CONTACT_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class GeoflowError(InputError):
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
    return re.sub(r"[@,:\[\]\"]", " ", value).strip()


def _check_ids(config: dict[str, Any]) -> None:
    for contact in config["contacts"]:
        if not CONTACT_ID.match(str(contact.get("id", ""))):
            raise GeoflowError(f"contact id {contact.get('id')!r}: use letters, digits, '.', '-' and '_' only")


def _contact_roles(info: DatasetInfo, config: dict[str, Any]) -> str:
    roles: dict[str, list[str]] = {}
    for contact in all_contacts(info, config):
        for role in contact["roles"]:
            roles.setdefault(role, []).append(contact["id"])
    return cell(*[(role, ",".join(ids)) for role, ids in roles.items()])


def _location(name: str, where: str) -> str:
    return f"{label(name)}@{where}"


def _data(info: DatasetInfo) -> str:
    """Data: the published cubes, else the local cubes, else the STAC collection (URL or plain path)."""
    if info.netcdf:
        sources, kind = [_location(n, u) for n, u in info.netcdf], "nc"
    elif info.local[0].endswith(".nc"):
        sources, kind = [_location(os.path.basename(p), p) for p in info.local], "nc"
    else:
        where = info.links.get("STAC collection") or info.local[0]
        sources, kind = [_location("collection.json", where)], "other"
    return cell(("access", "default"), ("source", ",".join(sources)), ("sourceType", kind),
                ("spatialRepresentationType", "grid"), ("upload", "false"))


def entity_row(info: DatasetInfo, config: dict[str, Any]) -> dict[str, str]:
    """One row of the entity table."""
    tmpl = load_json("metadata/text.json")
    kw = keywords(info)
    subject = [
        (f"theme[{kw['gemet']['thesaurus']}]@{kw['gemet']['uri']}", ",".join(text(k) for k in kw["gemet"]["words"])),
        (f"theme[{kw['inspire']['thesaurus']}]@{kw['inspire']['uri']}", ",".join(text(k) for k in kw["inspire"]["words"])),
        ("theme", ",".join(text(k) for k in kw["collection"]["words"])),
        (f"place[{kw['places']['thesaurus']}]", ",".join(text(p) for p in kw["places"]["words"])),
        (f"place[{kw['tiles']['thesaurus']}]", ",".join(kw["tiles"]["words"])),
    ]
    relation = [(key, f"{label(name)}[{label(desc)}]@{url}") for key, name, desc, url in online_resources(info)]
    return {
        "Identifier": cell(("id", info.identifier), ("doi", info.doi)),
        "Title": cell(("title", text(info.title))),
        "Description": cell(("abstract", text(info.abstract)), ("purpose", text(tmpl["purpose"])),
                            ("status", tmpl["status"]), ("maintenance", tmpl["maintenance"])),
        "Subject": cell(*subject),
        "Creator": _contact_roles(info, config),
        "Date": cell(("creation", info.created.isoformat()), ("publication", publication_date(info, config)),
                     ("revision", info.updated.isoformat())),
        "Type": cell(("generic", "dataset"), ("zenodoResourceType", "dataset")),
        "Language": "eng",
        "SpatialCoverage": f"ewkt:SRID=4326;{info.wkt}",
        "TemporalCoverage": f"{utc(info.start)}/{utc(info.end)}",
        "Relation": cell(*relation),
        # Zenodo's licence ids are the SPDX ids in lower case (zen4R looks them up).
        "Rights": cell(("license", config["license"].lower()), ("useLimitation", text(tmpl["use_limitation"])),
                       ("accessRight", tmpl["access_right"])),
        "Provenance": cell(("statement", text(tmpl["statement"])),
                           *[("process", f"{label(name)}[{label(desc)}]") for name, desc in processes(info)]),
        "Format": cell(("resource", media_types.JPEG2000),
                       ("distribution", f"{media_types.NETCDF}[NetCDF-4]" if info.netcdf or info.local[0].endswith(".nc")
                        else f"{media_types.JSON}[STAC]")),
        "Data": _data(info),
    }


def contact_rows(info_contacts: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The contact table (``id:`` keys: geoflow's contact validator splits the Identifier as key:value)."""
    keys = ["id", "email", "organisation", "position", "last_name", "first_name", "address", "postal_code",
            "city", "country", "phone", None, "website", "website_name"]
    rows = []
    for contact in info_contacts:
        row = {col: "" if key is None or contact.get(key) is None else str(contact[key])
               for col, key in zip(CONTACT_COLUMNS, keys, strict=True)}
        row["Identifier"] = f"id:{contact['id']}"
        rows.append(row)
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
    actions = [tmpl["actions"][name] for name in ("iso19115", "csw", "geonetwork", "zenodo") if name in enabled]
    if "iso19115" in enabled:  # completes each record before any action publishes it
        actions.insert(1, tmpl["actions"]["complete"])
    profile = subst(tmpl["profile"])
    if set(enabled) & {"csw", "geonetwork", "zenodo"}:
        # geoflow fills the {{ VAR }} placeholders only from an environment file named in the profile.
        profile["environment"] = tmpl["environment"]
    return {
        "profile": profile,
        "metadata": tmpl["metadata"],
        "software": [subst(tmpl["software"][name]) for name in ("csw", "geonetwork", "zenodo") if name in enabled],
        "actions": actions,
    }


def _csv(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_geoflow(catalog_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], config: dict[str, Any],
                  per_index: bool | None = None) -> dict[str, Path]:
    """Write the geoflow tables, workflow, completing action and its facts into ``out_dir``; return their paths."""
    _check_ids(config)
    per_index = config["geoflow"]["per_index"] if per_index is None else per_index
    infos = datasets(catalog_dir, config, per_index=per_index)
    out = Path(out_dir)
    files = {"entities": out / "entities.csv", "contacts": out / "contacts.csv", "workflow": out / "workflow.json",
             "action": out / COMPLETE_SCRIPT, "facts": out / FACTS_FILE}
    contacts = list({c["id"]: c for i in infos for c in all_contacts(i, config)}.values())
    write_if_changed(str(files["entities"]), _csv([entity_row(i, config) for i in infos], ENTITY_COLUMNS))
    write_if_changed(str(files["contacts"]), _csv(contact_rows(contacts), CONTACT_COLUMNS))
    write_if_changed(str(files["workflow"]), _json(workflow(config)))
    write_if_changed(str(files["action"]), template_bytes(f"metadata/{COMPLETE_SCRIPT}"))
    write_if_changed(str(files["facts"]), _json({i.identifier: complement_fragments(i, config) for i in infos}))
    return files


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


__all__ = ["CONTACT_COLUMNS", "ENTITY_COLUMNS", "GeoflowError", "entity_row", "write_geoflow"]
