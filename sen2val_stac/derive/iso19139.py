"""ISO 19115 as ISO 19139 XML, laid out as geoflow's geometa-create-iso-19115 lays it out.

The native records (``sen2val-stac metadata``) are written whole here. The geoflow route takes from here
only what its tables cannot carry (:func:`complement_fragments`: grid, tile reference systems, topic
category, licence anchor, UTC instants), which its completing action puts into geoflow's record. Same
facts (:mod:`sen2val_stac.derive.facts`), same layout: the tests compare both records field by field.
"""

from __future__ import annotations

from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from lxml.builder import ElementMaker  # type: ignore[import-untyped]

from sen2val_stac.core import media_types
from sen2val_stac.core.templates import load_json
from sen2val_stac.derive.facts import all_contacts, grid, keywords, license_url, online_resources, processes, utc
from sen2val_stac.derive.series import DatasetInfo

GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
GMX = "http://www.isotc211.org/2005/gmx"
GML = "http://www.opengis.net/gml/3.2"
XLINK = "http://www.w3.org/1999/xlink"
NSMAP = {"gmd": GMD, "gco": GCO, "gmx": GMX, "gml": GML, "xlink": XLINK}
CODELISTS = "https://standards.iso.org/iso/19139/resources/gmxCodelists.xml"
STANDARD = ("ISO 19115-2 Geographic Information - Metadata Part 2 Extensions for imagery and gridded data",
            "ISO 19115-2:2009")
PROTOCOLS = {"http": "WWW:LINK-1.0-http--link", "download": "WWW:DOWNLOAD-1.0-http--download"}

E = ElementMaker(namespace=GMD, nsmap=NSMAP)
CO = ElementMaker(namespace=GCO, nsmap=NSMAP)
GX = ElementMaker(namespace=GMX, nsmap=NSMAP)
GL = ElementMaker(namespace=GML, nsmap=NSMAP)


def _s(value: Any) -> etree._Element:
    return CO.CharacterString(str(value))


def _anchor(name: str, href: str) -> etree._Element:
    return GX.Anchor(name, {f"{{{XLINK}}}href": href})


def _code(codelist: str, value: str) -> etree._Element:
    return E(codelist, value, codeList=f"{CODELISTS}#{codelist}", codeListValue=value)


def _opt(tag: str, value: Any) -> list[etree._Element]:
    return [E(tag, _s(value))] if value not in (None, "") else []


def _party(contact: dict[str, Any], role: str) -> etree._Element:
    """CI_ResponsibleParty of a configured contact (or provider) in ``role``."""
    name = " ".join(str(p) for p in (contact.get("first_name"), contact.get("last_name")) if p)
    address = E.CI_Address(*_opt("deliveryPoint", contact.get("address")), *_opt("city", contact.get("city")),
                           *_opt("postalCode", contact.get("postal_code")), *_opt("country", contact.get("country")),
                           *_opt("electronicMailAddress", contact.get("email")))
    info = E.CI_Contact(E.phone(E.CI_Telephone(*_opt("voice", contact.get("phone")))), E.address(address))
    if contact.get("website"):
        info.append(E.onlineResource(E.CI_OnlineResource(E.linkage(E.URL(contact["website"])),
                                                         *_opt("name", contact.get("website_name")))))
    return E.CI_ResponsibleParty(*_opt("individualName", name), *_opt("organisationName", contact.get("organisation")),
                                 *_opt("positionName", contact.get("position")), E.contactInfo(info),
                                 E.role(_code("CI_RoleCode", role)))


def _date(value: str, kind: str) -> etree._Element:
    return E.date(E.CI_Date(E.date(CO.Date(value)), E.dateType(_code("CI_DateTypeCode", kind))))


def grid_representation(info: DatasetInfo) -> etree._Element:
    """``gmd:spatialRepresentationInfo``: MD_GridSpatialRepresentation with rows, columns and resolution."""
    g = grid(info)
    dims = [E.axisDimensionProperties(E.MD_Dimension(
        E.dimensionName(_code("MD_DimensionNameTypeCode", d["name"])), E.dimensionSize(CO.Integer(str(d["size"]))),
        E.resolution(CO.Measure(f"{d['resolution']:g}", uom=d["uom"])))) for d in g["dimensions"]]
    return E.spatialRepresentationInfo(E.MD_GridSpatialRepresentation(
        E.numberOfDimensions(CO.Integer(str(len(dims)))), *dims,
        E.cellGeometry(_code("MD_CellGeometryCode", g["cell_geometry"])),
        E.transformationParameterAvailability(CO.Boolean("false"))))


def reference_system(code: str) -> etree._Element:
    """``gmd:referenceSystemInfo`` for ``EPSG:<n>`` (code and codeSpace, as geoflow writes its SRID)."""
    return E.referenceSystemInfo(E.MD_ReferenceSystem(E.referenceSystemIdentifier(E.RS_Identifier(
        E.code(_s(code.split(":")[-1])), E.codeSpace(_s("EPSG"))))))


def topic_category(topic: str) -> etree._Element:
    """``gmd:topicCategory``."""
    return E.topicCategory(E.MD_TopicCategoryCode(topic))


def licence(config: dict[str, Any]) -> etree._Element:
    """``gmd:useLimitation`` naming the licence, anchored on its SPDX page."""
    return E.useLimitation(_anchor(config["license"], license_url(config)))


def _keywords(info: DatasetInfo) -> list[etree._Element]:
    out = []
    for group in keywords(info).values():
        if not group["words"]:
            continue
        block = E.MD_Keywords(*[E.keyword(_s(w)) for w in group["words"]],
                              E.type(_code("MD_KeywordTypeCode", group["type"])))
        if group["thesaurus"]:
            title = _anchor(group["thesaurus"], group["uri"]) if group["uri"] else _s(group["thesaurus"])
            block.append(E.thesaurusName(E.CI_Citation(E.title(title), _date(info.updated.isoformat(), "revision"))))
        out.append(E.descriptiveKeywords(block))
    return out


def _extent(info: DatasetInfo) -> etree._Element:
    w, s, e, n = info.bbox
    ring = " ".join(f"{x:g} {y:g}" for x, y in info.geometry.simplify(5e-4).exterior.coords) \
        if info.geometry.geom_type == "Polygon" else ""
    elements = [E.geographicElement(E.EX_GeographicBoundingBox(
        E.westBoundLongitude(CO.Decimal(f"{w:g}")), E.eastBoundLongitude(CO.Decimal(f"{e:g}")),
        E.southBoundLatitude(CO.Decimal(f"{s:g}")), E.northBoundLatitude(CO.Decimal(f"{n:g}"))))]
    if ring:
        elements.append(E.geographicElement(E.EX_BoundingPolygon(E.polygon(GL.Polygon(
            GL.exterior(GL.LinearRing(GL.posList(ring))), {f"{{{GML}}}id": "footprint"})))))
    period = GL.TimePeriod(GL.beginPosition(utc(info.start)), GL.endPosition(utc(info.end)), {f"{{{GML}}}id": "period"})
    return E.extent(E.EX_Extent(*elements, E.temporalElement(E.EX_TemporalExtent(E.extent(period)))))


def _lineage(info: DatasetInfo) -> etree._Element:
    tmpl = load_json("metadata/text.json")
    steps = [E.processStep(E.LI_ProcessStep(E.description(_s(desc)), E.rationale(_s(name))))
             for name, desc in processes(info)]
    return E.dataQualityInfo(E.DQ_DataQuality(E.scope(E.DQ_Scope(E.level(_code("MD_ScopeCode", "dataset")))),
                                              E.lineage(E.LI_Lineage(E.statement(_s(tmpl["statement"])), *steps))))


def _doi_identifier(doi: str) -> etree._Element:
    return E.identifier(E.MD_Identifier(E.code(_anchor(f"doi:{doi}", f"https://doi.org/{doi}"))))


def record(info: DatasetInfo, config: dict[str, Any], publication: str) -> bytes:
    """The ISO 19139 record of a dataset (``gmd:MD_Metadata``)."""
    tmpl = load_json("metadata/text.json")
    contacts = all_contacts(info, config)
    by_role = [(c, r) for c in contacts for r in c["roles"]]
    metadata = [E.contact(_party(c, "pointOfContact")) for c, r in by_role if r == "metadata"] \
        or [E.contact({f"{{{GCO}}}nilReason": "missing"})]
    owners = [c for c, r in by_role if r == "owner"] or contacts[:1]
    distributors = [c for c, r in by_role if r == "distributor"] or contacts[:1]
    citation = E.CI_Citation(
        E.title(_s(info.title)), _date(info.created.isoformat(), "creation"), _date(publication, "publication"),
        _date(info.updated.isoformat(), "revision"), E.identifier(E.MD_Identifier(E.code(_s(info.identifier)))),
        *([_doi_identifier(info.doi)] if info.doi else []),
        *[E.citedResponsibleParty(_party(c, "owner")) for c in owners],
        E.presentationForm(_code("CI_PresentationFormCode", "mapDigital")))
    resources = online_resources(info)
    overviews = [E.graphicOverview(E.MD_BrowseGraphic(E.fileName(_s(url)), E.fileDescription(_s(desc))))
                 for key, _, desc, url in resources if key == "thumbnail"]
    constraints = E.MD_LegalConstraints(licence(config), E.useLimitation(_s(tmpl["use_limitation"])),
                                        E.useConstraints(_code("MD_RestrictionCode", "license")))
    ident = E.MD_DataIdentification(
        E.citation(citation), E.abstract(_s(info.abstract)), E.purpose(_s(tmpl["purpose"])),
        E.status(_code("MD_ProgressCode", tmpl["status"])),
        *[E.pointOfContact(_party(c, r)) for c, r in by_role if r != "metadata" and not r.startswith("processor")],
        E.resourceMaintenance(E.MD_MaintenanceInformation(E.maintenanceAndUpdateFrequency(
            _code("MD_MaintenanceFrequencyCode", tmpl["maintenance"])))),
        *overviews, E.resourceFormat(E.MD_Format(E.name(_s(media_types.JPEG2000)), E.version(_s("JPEG 2000")))),
        *_keywords(info), E.resourceConstraints(constraints),
        E.spatialRepresentationType(_code("MD_SpatialRepresentationTypeCode", "grid")),
        E.language(E.LanguageCode("eng", codeList="http://www.loc.gov/standards/iso639-2/", codeListValue="eng")),
        E.characterSet(_code("MD_CharacterSetCode", "utf8")), topic_category(tmpl["topic"]), _extent(info))
    online = [E.onLine(E.CI_OnlineResource(E.linkage(E.URL(f"https://doi.org/{info.doi}")), E.protocol(_s(PROTOCOLS["http"])),
                                           E.name(_s("DOI")), E.description(_s("Digital Object Identifier"))))] \
        if info.doi else []
    online += [E.onLine(E.CI_OnlineResource(E.linkage(E.URL(url)), E.protocol(_s(PROTOCOLS[key])), E.name(_s(name)),
                                            E.description(_s(desc)))) for key, name, desc, url in resources
               if key in PROTOCOLS]
    distribution = E.MD_Distribution(
        E.distributionFormat(E.MD_Format(E.name(_s(media_types.NETCDF if _is_cube(info) else media_types.JSON)),
                                         E.version(_s("NetCDF-4" if _is_cube(info) else "STAC")))),
        *[E.distributor(E.MD_Distributor(E.distributorContact(_party(c, "distributor")))) for c in distributors],
        E.transferOptions(E.MD_DigitalTransferOptions(*online)))
    root = E.MD_Metadata(
        E.fileIdentifier(_s(info.identifier)), E.language(E.LanguageCode(
            "eng", codeList="http://www.loc.gov/standards/iso639-2/", codeListValue="eng")),
        E.characterSet(_code("MD_CharacterSetCode", "utf8")), E.hierarchyLevel(_code("MD_ScopeCode", "dataset")),
        *metadata, E.dateStamp(CO.Date(info.updated.isoformat())), E.metadataStandardName(_s(STANDARD[0])),
        E.metadataStandardVersion(_s(STANDARD[1])), E.dataSetURI(_s(info.identifier)), grid_representation(info),
        reference_system("EPSG:4326"), *[reference_system(c) for c in info.crs], E.identificationInfo(ident),
        E.distributionInfo(distribution), _lineage(info))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _is_cube(info: DatasetInfo) -> bool:
    return bool(info.netcdf) or info.local[0].endswith(".nc")


def complement_fragments(info: DatasetInfo, config: dict[str, Any]) -> dict[str, Any]:
    """What geoflow's record lacks, as ISO 19139 fragments for the completing action (see its header)."""
    def xml(element: etree._Element) -> str:
        return str(etree.tostring(element, encoding="unicode"))
    return {
        "spatialRepresentationInfo": xml(grid_representation(info)),
        "referenceSystemInfo": [xml(reference_system(c)) for c in info.crs],
        "topicCategory": xml(topic_category(load_json("metadata/text.json")["topic"])),
        "licence": {"name": config["license"], "useLimitation": xml(licence(config))},
        "temporal": {"begin": utc(info.start), "end": utc(info.end)},
    }
