"""Real geoflow from the tests: run a workflow with Rscript, validate ISO 19139, read records field by field."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pycsw
from lxml import etree

RUNNER = Path(__file__).parent / "geoflow_run.R"
ISO_19139 = Path(pycsw.__file__).parent / "plugins/profiles/apiso/schemas/ogc/iso/19139/20070417"
NS = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco",
      "gmx": "http://www.isotc211.org/2005/gmx", "gml": "http://www.opengis.net/gml/3.2",
      "xlink": "http://www.w3.org/1999/xlink"}
# WARN lines geoflow writes whatever the tables hold (not about our cells):
# - the contact handler warns for every contact that has an Identifier, which its validator requires;
# - geometa validates geoflow's record before the completing action adds what the tables cannot carry.
GEOFLOW_OWN_WARNINGS = (
    "Use 'Identifier' column as contact Ids",
    "MD_GridSpatialRepresentation': Missing child element(s). Expected is ( {http://www.isotc211.org/2005/gmd}"
    "transformationParameterAvailability )",
    "Object 'ISOMetadata' is INVALID according to ISO 19139 XML schemas!",
)


@functools.cache
def geoflow_missing() -> str:
    """'' when ``Rscript -e 'library(geoflow)'`` works, else the reason."""
    if not shutil.which("Rscript"):
        return "Rscript not found (install R and geoflow: ../shared/geoflow/install.sh)"
    done = subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(geoflow))"],
                          capture_output=True, text=True, timeout=300)
    return "" if done.returncode == 0 else f"geoflow not loadable in R: {done.stderr.strip()[-300:]}"


def run_geoflow(folder: Path, mode: str = "run", timeout: int = 1200) -> subprocess.CompletedProcess[str]:
    """``Rscript tests/geoflow_run.R folder mode`` (stdout and stderr captured)."""
    return subprocess.run(["Rscript", str(RUNNER), str(folder), mode], capture_output=True, text=True, timeout=timeout)


def job_dir(done: subprocess.CompletedProcess[str]) -> Path:
    """The job folder printed by the runner."""
    match = re.search(r"^JOBDIR=(.+)$", done.stdout, re.M)
    assert match, done.stdout[-2000:] + done.stderr[-2000:]
    return Path(match.group(1))


@functools.cache
def gmi_xsd() -> Path:
    """geometa's ISO 19115-2 gmi schema."""
    done = subprocess.run(["Rscript", "-e", 'cat(system.file("extdata/schemas/19115/-2/gmi/1.0/gmi.xsd", '
                           'package = "geometa"))'], capture_output=True, text=True, timeout=120)
    return Path(done.stdout.strip())


@functools.cache
def iso_schema() -> etree.XMLSchema:
    """ISO 19139 gmd + gmx (pycsw's copy) and ISO 19115-2 gmi (geometa's), offline."""
    imports = [("http://www.isotc211.org/2005/gmd", ISO_19139 / "gmd/gmd.xsd"),
               ("http://www.isotc211.org/2005/gmx", ISO_19139 / "gmx/gmx.xsd"),
               ("http://standards.iso.org/iso/19115/-2/gmi/1.0", gmi_xsd())]
    body = "".join(f'<xs:import namespace="{ns}" schemaLocation="{path.as_uri()}"/>' for ns, path in imports)
    wrapper = (f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:sen2val:wrapper">'
               f"{body}</xs:schema>")
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


def schema_errors(path: Path) -> list[str]:
    """Schema errors of one record (empty when valid)."""
    schema = iso_schema()
    if schema.validate(etree.parse(str(path))):
        return []
    return [f"{e.line}: {e.message}" for e in schema.error_log]


def _text(node: etree._Element | None) -> str:
    if node is None:
        return ""
    return " ".join("".join(node.itertext()).split())


def _all(root: etree._Element, xpath: str) -> list[etree._Element]:
    return list(root.xpath(xpath, namespaces=NS))


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _party(node: etree._Element) -> tuple[str, str, str]:
    name = _text(node.find("gmd:individualName", NS)) or _text(node.find("gmd:organisationName", NS))
    email = _text(node.find(".//gmd:electronicMailAddress", NS))
    role = node.find("gmd:role/gmd:CI_RoleCode", NS)
    return name, email, role.get("codeListValue") if role is not None else ""


def iso_fields(path: Path) -> dict[str, Any]:
    """The fields both routes must agree on, read from an ISO 19139 record wherever it puts them."""
    root = etree.parse(str(path)).getroot()
    ident = root.find("gmd:identificationInfo/gmd:MD_DataIdentification", NS)
    assert ident is not None, path
    box = ident.find(".//gmd:EX_GeographicBoundingBox", NS)
    assert box is not None, path
    bbox = tuple(round(float(_text(box.find(f"gmd:{side}", NS))), 4) for side in
                 ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude", "northBoundLatitude"))
    keywords = set()
    for block in _all(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords"):
        kind = block.find("gmd:type/gmd:MD_KeywordTypeCode", NS)
        thesaurus = _text(block.find("gmd:thesaurusName//gmd:title", NS))
        for word in block.findall("gmd:keyword", NS):
            keywords.add((kind.get("codeListValue") if kind is not None else "", thesaurus, _text(word)))
    crs = set()
    for rs in _all(root, "gmd:referenceSystemInfo//gmd:RS_Identifier"):
        code = _text(rs.find("gmd:code", NS))
        space = _text(rs.find("gmd:codeSpace", NS))
        crs.add(f"{space}:{code}" if space and ":" not in code else code)
    dims = [(d.find("gmd:dimensionName/gmd:MD_DimensionNameTypeCode", NS).get("codeListValue"),
             int(_text(d.find("gmd:dimensionSize", NS))), float(_text(d.find("gmd:resolution", NS))),
             d.find("gmd:resolution/gco:Measure", NS).get("uom"))
            for d in _all(root, "gmd:spatialRepresentationInfo/gmd:MD_GridSpatialRepresentation//gmd:MD_Dimension")]
    grids = _all(root, "gmd:spatialRepresentationInfo/gmd:MD_GridSpatialRepresentation")
    anchors = [(_text(a), a.get(f"{{{NS['xlink']}}}href")) for a in _all(ident, "gmd:resourceConstraints//gmx:Anchor")]
    doi = [_text(c)[4:] for c in _all(ident, "gmd:citation//gmd:identifier//gmd:code") if _text(c).startswith("doi:")]
    online = {(_text(o.find("gmd:name", NS)), _text(o.find("gmd:linkage", NS)))
              for o in _all(root, "gmd:distributionInfo//gmd:onLine/gmd:CI_OnlineResource")}
    status = ident.find("gmd:status/gmd:MD_ProgressCode", NS)
    return {
        "identifier": _text(root.find("gmd:fileIdentifier", NS)),
        "title": _text(ident.find("gmd:citation/gmd:CI_Citation/gmd:title", NS)),
        "abstract": _text(ident.find("gmd:abstract", NS)),
        "keywords": keywords,
        "topic": [_text(t) for t in ident.findall("gmd:topicCategory", NS)],
        "bbox": bbox,
        "begin": _instant(_text(ident.find(".//gml:TimePeriod/gml:beginPosition", NS))),
        "end": _instant(_text(ident.find(".//gml:TimePeriod/gml:endPosition", NS))),
        "crs": crs,
        "grid": {"count": len(grids), "dimensions": dims,
                 "declared": [int(_text(g.find("gmd:numberOfDimensions", NS))) for g in grids]},
        "metadata_contacts": {_party(p) for p in _all(root, "gmd:contact/gmd:CI_ResponsibleParty")},
        "parties": {_party(p) for p in _all(ident, "gmd:pointOfContact/gmd:CI_ResponsibleParty")},
        "cited": {_party(p) for p in _all(ident, "gmd:citation//gmd:citedResponsibleParty/gmd:CI_ResponsibleParty")},
        "licence": anchors,
        "use_constraints": [c.get("codeListValue") for c in _all(ident, "gmd:resourceConstraints//gmd:useConstraints/"
                                                                         "gmd:MD_RestrictionCode")],
        "doi": doi,
        "status": status.get("codeListValue") if status is not None else "",
        "maintenance": [c.get("codeListValue") for c in _all(ident, ".//gmd:MD_MaintenanceFrequencyCode")],
        "online": online,
        "overviews": [_text(f) for f in _all(ident, "gmd:graphicOverview//gmd:fileName")],
        "lineage": [_text(s) for s in _all(root, "gmd:dataQualityInfo//gmd:LI_Lineage/gmd:statement")],
        "steps": [(_text(s.find("gmd:rationale", NS)), _text(s.find("gmd:description", NS)))
                  for s in _all(root, "gmd:dataQualityInfo//gmd:LI_ProcessStep")],
        "representation_type": [c.get("codeListValue") for c in _all(ident, "gmd:spatialRepresentationType/"
                                                                          "gmd:MD_SpatialRepresentationTypeCode")],
        "empty_coverages": len(_all(root, "gmd:contentInfo/*[local-name()='MI_CoverageDescription']"
                                          "[not(gmd:dimension)]")),
    }
