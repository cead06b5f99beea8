"""Native ISO 19139 records: XSD-valid, right extents, served back by a real pycsw; Dublin Core oai_dc.

That they say what geoflow's records say, field by field: test_geoflow_real.py.
"""

from __future__ import annotations

import configparser
import os
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pycsw
import pytest
from lxml import etree
from owslib.iso import MD_Metadata

from sen2val_stac.cli import main
from sen2val_stac.config import load_config
from sen2val_stac.derive.records import write_records

PYCSW = Path(pycsw.__file__).parent
ISO_XSD = PYCSW / "plugins/profiles/apiso/schemas/ogc/iso/19139/20070417"  # GML 3.2, as geoflow writes
DC_NS = "http://purl.org/dc/elements/1.1/"
DCMES = {"contributor", "coverage", "creator", "date", "description", "format", "identifier", "language",
         "publisher", "relation", "rights", "source", "subject", "title", "type"}


@pytest.fixture(scope="module")
def records(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    config_file = out / "sen2val.yaml"
    config_file.write_text("root_href: https://data.example.org/stac/\ndoi:\n  NDVI: 10.5281/zenodo.777\n")
    files = write_records(demo[0], out / "xml", load_config(config_file))
    return out / "xml", files


@pytest.fixture(scope="module")
def iso_schema() -> etree.XMLSchema:
    wrapper = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:sen2val:wrapper">
      <xs:import namespace="http://www.isotc211.org/2005/gmd" schemaLocation="{(ISO_XSD / 'gmd/gmd.xsd').as_uri()}"/>
      <xs:import namespace="http://www.isotc211.org/2005/gmx" schemaLocation="{(ISO_XSD / 'gmx/gmx.xsd').as_uri()}"/>
    </xs:schema>"""
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


def test_iso_records_validate_and_carry_extents(records, iso_schema) -> None:
    folder, files = records
    iso = sorted(f for f in files if f.name.endswith("_ISO-19139.xml"))
    assert len(iso) == 9 and len(files) == 18
    for path in iso:
        doc = etree.parse(str(path))
        assert iso_schema.validate(doc), (path.name, iso_schema.error_log.filter_from_errors()[:3])
    md = MD_Metadata(etree.parse(str(folder / "data_38KQE_NDVI_SEN2CHAIN_ISO-19139.xml")).getroot())
    assert md.identifier == "data_38KQE_NDVI_SEN2CHAIN"
    ident = md.identification[0] if isinstance(md.identification, list) else md.identification
    assert "tile 38KQE" in ident.title
    box = ident.bbox
    assert 46.8 < float(box.minx) < 47.0 and 47.9 < float(box.maxx) < 48.0
    assert -20.9 < float(box.miny) < -20.8 and -19.9 < float(box.maxy) < -19.8
    assert ident.temporalextent_start == "2022-01-06T07:09:11Z" and ident.temporalextent_end == "2022-11-12T07:09:11Z"
    assert md.contact, "the record needs a metadata contact (gmd:contact)"
    urls = {o.url for o in md.distribution.online}
    assert "https://data.example.org/stac/ndvi/collection.json" in urls and "https://doi.org/10.5281/zenodo.777" in urls
    words = {k for group in ident.keywords for k in group["keywords"]}
    assert {"NDVI", "Madagascar", "land cover"} <= words
    assert md.dataquality.lineage.startswith("Computed by the Sen2Chain")


def test_dublin_core_is_oai_dc(records) -> None:
    folder, files = records
    for path in (f for f in files if f.name.endswith("_DC.xml")):
        root = etree.parse(str(path)).getroot()
        assert root.tag == "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
        names = {etree.QName(child).localname for child in root}
        assert all(etree.QName(child).namespace == DC_NS for child in root)
        assert names <= DCMES and {"identifier", "title", "description", "coverage", "rights"} <= names
    root = etree.parse(str(folder / "data_40KCB_NDVI_SEN2CHAIN_DC.xml")).getroot()
    assert "https://doi.org/10.5281/zenodo.777" in [e.text for e in root.findall(f"{{{DC_NS}}}identifier")]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def csw(records, tmp_path_factory):
    """A real pycsw (SQLite repository) loaded with the ISO records, served on 127.0.0.1."""
    from pycsw import server
    from pycsw.core import admin
    from pycsw.core.config import StaticContext

    _, files = records
    home = tmp_path_factory.mktemp("pycsw")
    database = f"sqlite:///{home / 'records.db'}"
    iso_dir = home / "iso"
    iso_dir.mkdir()
    for f in files:
        if f.name.endswith("_ISO-19139.xml"):
            (iso_dir / f.name).write_bytes(f.read_bytes())
    admin.setup_db(database, "records", str(home))
    admin.load_records(StaticContext(), database, "records", str(iso_dir), force_update=True)
    httpd = make_server("127.0.0.1", 0, lambda e, s: None, handler_class=_Quiet)
    url = f"http://127.0.0.1:{httpd.server_port}/csw"
    cfg = configparser.ConfigParser()
    cfg.read_dict({
        "server": {"home": str(home), "url": url, "mimetype": "application/xml; charset=UTF-8", "encoding": "UTF-8",
                   "language": "en-US", "maxrecords": "50", "pretty_print": "true", "profiles": "apiso"},
        "manager": {"transactions": "false", "allowed_ips": "127.0.0.1"},
        "metadata:main": {"identification_title": "sen2val test CSW", "contact_email": "contact@example.org",
                          "identification_abstract": "test", "identification_keywords": "test",
                          "identification_keywords_type": "theme", "identification_fees": "None",
                          "identification_accessconstraints": "None", "provider_name": "test",
                          "provider_url": url, "contact_name": "test", "contact_position": "test",
                          "contact_address": "x", "contact_city": "x", "contact_stateorprovince": "x",
                          "contact_postalcode": "x", "contact_country": "x", "contact_phone": "x",
                          "contact_fax": "x", "contact_url": url, "contact_hours": "x",
                          "contact_instructions": "x", "contact_role": "pointOfContact"},
        "repository": {"database": database, "table": "records"},
    })

    def app(environ, start_response):
        environ["local.app_root"] = str(PYCSW)
        csw_ = server.Csw(cfg, environ)
        status, contents = csw_.dispatch_wsgi()
        start_response(status, [("Content-Type", csw_.contenttype), ("Content-Length", str(len(contents)))])
        return [contents]

    httpd.set_app(app)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield url
    httpd.shutdown()


def test_records_round_trip_through_pycsw(csw) -> None:
    from owslib.csw import CatalogueServiceWeb
    from owslib.fes import BBox, PropertyIsLike

    client = CatalogueServiceWeb(csw, timeout=30)
    client.getrecordbyid(id=["data_40KCB_NDVI_SEN2CHAIN"], outputschema="http://www.isotc211.org/2005/gmd")
    assert list(client.records) == ["data_40KCB_NDVI_SEN2CHAIN"]
    assert "tile 40KCB" in client.records["data_40KCB_NDVI_SEN2CHAIN"].identification[0].title \
        if isinstance(client.records["data_40KCB_NDVI_SEN2CHAIN"].identification, list) \
        else client.records["data_40KCB_NDVI_SEN2CHAIN"].identification.title

    # EPSG:4326 in a CSW 2.0.2 filter is latitude first.
    client.getrecords2(constraints=[BBox([-21.5, 55.2, -20.9, 55.8])], maxrecords=50)
    hits = set(client.records)
    assert {"data_40KCB_NDVI_SEN2CHAIN", "data_40KCB_MNDWI_SEN2CHAIN", "data_40KCB_NDWIGAO_SEN2CHAIN"} <= hits
    assert not any("38KQE" in h for h in hits)

    client.getrecords2(constraints=[PropertyIsLike("csw:AnyText", "%Madagascar%")], maxrecords=50)
    assert {r for r in client.records if "_SEN2CHAIN" in r} >= {
        "data_38KQE_NDVI_SEN2CHAIN", "data_38KQE_MNDWI_SEN2CHAIN", "data_38KQE_NDWIGAO_SEN2CHAIN"}
    assert "data_40KCB_NDVI_SEN2CHAIN" not in client.records


def test_cli(demo, tmp_path) -> None:
    assert main(["metadata", str(demo[0]), "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.xml"))) == 18
    assert main(["metadata", str(demo[0]), "--out", str(tmp_path), "--config", str(tmp_path / "missing.yaml")]) == 2
    assert os.path.isfile(tmp_path / "data_NDVI_SEN2CHAIN_ISO-19139.xml")
