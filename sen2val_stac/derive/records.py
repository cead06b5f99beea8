"""Native metadata records per dataset: ISO 19115 (ISO 19139 XML, through pygeometa's MCF) and Dublin Core.

No R needed: the same facts as the geoflow tables (:mod:`sen2val_stac.derive.series`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dcxml import simpledc
from pygeometa.schemas.iso19139 import ISO19139OutputSchema

from sen2val_stac.core.atomic import write_if_changed
from sen2val_stac.core.templates import index_definition, load_json
from sen2val_stac.derive.series import DatasetInfo, datasets, software_versions

ISO_SUFFIX = "_ISO-19139.xml"
DC_SUFFIX = "_DC.xml"
# pygeometa writes gmd:contact (the metadata contact) only for roles other than these.
NOT_METADATA_CONTACT = {"pointOfContact", "distributor"}


def _contact(contact: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    return {
        "organization": contact.get("organisation") or "", "url": contact.get("website") or "",
        "individualname": name, "positionname": contact.get("position") or "",
        "phone": contact.get("phone") or "", "fax": "", "address": contact.get("address") or "",
        "city": contact.get("city") or "", "administrativearea": "", "postalcode": contact.get("postal_code") or "",
        "country": contact.get("country") or "", "email": contact.get("email") or "", "contactinstructions": "",
    }


def lineage(info: DatasetInfo) -> str:
    """Lineage statement with the processing steps."""
    tmpl = load_json("metadata/text.json")
    definition = index_definition(info.index)
    steps = [desc.format(formula=definition.get("formula") or "its formula", index=info.index,
                         masks=", ".join(info.masks) or "none", **software_versions(info))
             for _, desc in tmpl["processes"]]
    return tmpl["statement"] + " " + " ".join(s.rstrip(".") + "." for s in steps)


def mcf(info: DatasetInfo, config: dict[str, Any]) -> dict[str, Any]:
    """The pygeometa MCF 1.0 document of a dataset."""
    tmpl = load_json("metadata/text.json")
    contacts: dict[str, Any] = {}
    for contact in config["contacts"]:
        for role in contact.get("roles", []):
            contacts.setdefault(role, _contact(contact))
    if not set(contacts) - NOT_METADATA_CONTACT and config["contacts"]:
        contacts["custodian"] = _contact(config["contacts"][0])
    distribution = {name.lower().replace(" ", "_"): {"url": url, "type": "WWW:LINK", "name": name,
                                                     "description": name, "function": "information"}
                    for name, url in info.links.items() if name != "thumbnail"}
    for name, url in info.netcdf:
        distribution[name] = {"url": url, "type": "WWW:DOWNLOAD-1.0-http--download", "name": name,
                              "description": "NetCDF-4 time series cube", "function": "download"}
    if info.doi:
        distribution["doi"] = {"url": f"https://doi.org/{info.doi}", "type": "WWW:LINK", "name": "DOI",
                               "description": "Digital Object Identifier", "function": "information"}
    return {
        "mcf": {"version": 1.0},
        "metadata": {"identifier": info.identifier, "language": "en", "charset": "utf8",
                     "hierarchylevel": "dataset", "datestamp": info.updated.isoformat(),
                     "dataseturi": f"https://doi.org/{info.doi}" if info.doi else info.links["STAC collection"]},
        "spatial": {"datatype": "grid", "geomtype": "solid"},
        "identification": {
            "language": "eng", "charset": "utf8", "title": info.title, "abstract": info.abstract,
            "dates": {"creation": info.created.isoformat(), "revision": info.updated.isoformat()},
            "keywords": {
                "theme": {"keywords": tmpl["gemet"], "keywords_type": "theme",
                          "vocabulary": {"name": "GEMET", "url": "https://www.eionet.europa.eu/gemet"}},
                "index": {"keywords": list(dict.fromkeys([info.index, *info.keywords, "Sentinel-2", "Sen2Chain"])),
                          "keywords_type": "theme"},
                "place": {"keywords": info.places + [f"MGRS {t}" for t in info.tiles], "keywords_type": "place"},
            },
            "topiccategory": [tmpl["topic"]],
            "extents": {"spatial": [{"bbox": list(info.bbox), "crs": 4326}],
                        "temporal": [{"begin": info.first.isoformat(), "end": info.last.isoformat()}]},
            "fees": "None", "accessconstraints": "otherRestrictions",
            "rights": f"{config['license']}. {tmpl['use_limitation']}",
            "license": {"name": config["license"], "url": f"https://spdx.org/licenses/{config['license']}.html"},
            "url": info.links["STAC collection"], "status": "onGoing", "maintenancefrequency": "continual",
            "browsegraphic": info.links.get("thumbnail"),
        },
        "contact": contacts,
        "distribution": distribution,
        "dataquality": {"scope": {"level": "dataset"}, "lineage": {"statement": lineage(info)}},
    }


def iso_xml(info: DatasetInfo, config: dict[str, Any]) -> str:
    """ISO 19139 XML of a dataset."""
    return ISO19139OutputSchema().write(mcf(info, config))


def dublin_core_xml(info: DatasetInfo, config: dict[str, Any]) -> bytes:
    """Dublin Core (``oai_dc:dc``) XML of a dataset."""
    w, s, e, n = info.bbox
    record = {
        "identifiers": [info.identifier] + ([f"https://doi.org/{info.doi}"] if info.doi else []),
        "titles": [info.title],
        "descriptions": [info.abstract, lineage(info)],
        "subjects": list(dict.fromkeys([info.index, *info.keywords, "Sentinel-2", *info.places])),
        "creators": [c.get("organisation") or c["id"] for c in config["contacts"] if "author" in c.get("roles", [])]
        or [config["organisation"]["name"]],
        "publishers": [config["organisation"]["name"]],
        "dates": [f"{info.first.isoformat()}/{info.last.isoformat()}"],
        "types": ["Dataset"],
        "formats": ["image/jp2"] + (["application/x-netcdf"] if info.netcdf else []),
        "languages": ["eng"],
        "rights": [config["license"]],
        "coverage": [f"{w} {s} {e} {n}", f"{info.first.isoformat()}/{info.last.isoformat()}", *info.tiles],
        "relations": [url for url in info.links.values()] + [url for _, url in info.netcdf],
        "sources": ["Copernicus Sentinel-2 Level-2A"],
    }
    xml = simpledc.tostring(record)
    return xml.encode("utf-8") if isinstance(xml, str) else xml


def write_records(catalog_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], config: dict[str, Any]) -> list[Path]:
    """Write ``<identifier>_ISO-19139.xml`` and ``<identifier>_DC.xml`` per series and per index."""
    out = Path(out_dir)
    written = []
    for info in datasets(catalog_dir, config, per_index=True):
        iso = out / f"{info.identifier}{ISO_SUFFIX}"
        dc = out / f"{info.identifier}{DC_SUFFIX}"
        write_if_changed(str(iso), iso_xml(info, config).encode("utf-8"))
        write_if_changed(str(dc), dublin_core_xml(info, config))
        written += [iso, dc]
    return written
