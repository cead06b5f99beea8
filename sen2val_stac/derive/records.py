"""Native metadata records per dataset: ISO 19115 (ISO 19139 XML) and Dublin Core.

No R needed: the same facts as the geoflow tables (:mod:`sen2val_stac.derive.facts`), and the ISO record
laid out as geoflow writes it (:mod:`sen2val_stac.derive.iso19139`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dcxml import simpledc

from sen2val_stac.core import media_types
from sen2val_stac.core.atomic import write_if_changed
from sen2val_stac.core.templates import load_json
from sen2val_stac.derive import iso19139
from sen2val_stac.derive.facts import keywords, processes, publication_date, utc
from sen2val_stac.derive.series import DatasetInfo, datasets

ISO_SUFFIX = "_ISO-19139.xml"
DC_SUFFIX = "_DC.xml"


def lineage(info: DatasetInfo) -> str:
    """Lineage statement with the processing steps."""
    steps = [desc for _, desc in processes(info)]
    return str(load_json("metadata/text.json")["statement"]) + " " + " ".join(s.rstrip(".") + "." for s in steps)


def iso_xml(info: DatasetInfo, config: dict[str, Any]) -> bytes:
    """ISO 19139 XML of a dataset."""
    return iso19139.record(info, config, publication_date(info, config))


def dublin_core_xml(info: DatasetInfo, config: dict[str, Any]) -> bytes:
    """Dublin Core (``oai_dc:dc``) XML of a dataset."""
    w, s, e, n = info.bbox
    record = {
        "identifiers": [info.identifier] + ([f"https://doi.org/{info.doi}"] if info.doi else []),
        "titles": [info.title],
        "descriptions": [info.abstract, lineage(info)],
        "subjects": list(dict.fromkeys(w for group in keywords(info).values() for w in group["words"])),
        "creators": [c.get("organisation") or c["id"] for c in config["contacts"] if "author" in c.get("roles", [])]
        or [config["organisation"]["name"]],
        "publishers": [config["organisation"]["name"]],
        "dates": [f"{utc(info.start)}/{utc(info.end)}"],
        "types": ["Dataset"],
        "formats": [media_types.JPEG2000] + ([media_types.NETCDF] if info.netcdf else []),
        "languages": ["eng"],
        "rights": [config["license"]],
        "coverage": [f"{w} {s} {e} {n}", f"{utc(info.start)}/{utc(info.end)}", *info.tiles],
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
        write_if_changed(str(iso), iso_xml(info, config))
        write_if_changed(str(dc), dublin_core_xml(info, config))
        written += [iso, dc]
    return written
