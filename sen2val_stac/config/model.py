"""The configuration as pydantic models: one field per key of ``catalog_templates/config-defaults.yaml``.

The models hold the types and the rules; the defaults stay in the YAML file (the one source of truth for
them): every field of a section is required here and filled from that file before validation, so a key
added to the defaults without a field here, or a field without a default there, is reported by
:func:`sen2val_stac.config.load_config`. Only list elements (``contacts``) have defaults here, since the
defaults file cannot give any.

Field docstrings become the descriptions of the JSON Schema (``sen2val-stac init-config --schema``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator

from sen2val_stac.config.fields import (
    Chunks,
    Date,
    Doi,
    Email,
    Folder,
    Number,
    Scalar,
    Text,
    Url,
    between,
    fail,
    matches,
    one_of,
    placeholders,
)
from sen2val_stac.derive.formats import DRIVERS
from sen2val_stac.pipeline import STEPS

# Besides a tcp:// address (sen2val_stac.derive.netcdf.export.SCHEDULERS; a test keeps the two equal).
SCHEDULER_NAMES = ("threads", "processes", "synchronous")
# GDAL's overview resampling methods (rasterio Resampling names that gdaladdo accepts).
OVERVIEW_RESAMPLINGS = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "rms", "mode", "gauss")
STAC_PROVIDER_ROLES = ("licensor", "producer", "processor", "host")
ACDD_CREATOR_TYPES = ("person", "group", "institution", "position")


class Section(BaseModel):
    """A mapping of configuration keys: strict types, unknown keys rejected."""

    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)


class Catalog(Section):
    """The root catalog."""

    id: Text
    """Identifier of the root catalog."""
    title: Text
    """Title of the root catalog."""
    description: Text
    """Description of the root catalog (Markdown)."""


class Organisation(Section):
    """Organisation publishing the data (STAC providers, metadata contacts)."""

    name: Text
    """Name of the organisation."""
    url: Url | None
    """Home page of the organisation."""
    email: Email | None
    """Contact address of the organisation."""
    roles: list[Annotated[str, one_of(STAC_PROVIDER_ROLES)]]
    """STAC provider roles: licensor, producer, processor, host."""


class Footprint(Section):
    """Valid-data footprints and statistics read at index time."""

    read_size: Annotated[int, between(16)]
    """Longest side, pixels, of the decimated read used for footprints and statistics."""
    simplify_m: Annotated[Number, between(0)]
    """Footprint simplification tolerance, metres."""
    nodata_tolerance: Annotated[Number, between(0)]
    """Lossy JPEG2000: values this close to nodata count as nodata."""


class Footprints(Section):
    """``sen2val-stac footprints``: footprint layers."""

    out_dir: Folder | None
    """Where the layers are written; null: <catalog_dir>/../footprints."""
    format: Annotated[str, one_of(DRIVERS)]
    """Layer format: shp (ESRI Shapefile), gpkg (GeoPackage) or parquet (GeoParquet)."""


SCHEDULER = matches(rf"^({'|'.join(SCHEDULER_NAMES)}|[a-z][a-z0-9+.-]*://\S+)$",
                    f"must be {', '.join(SCHEDULER_NAMES)} or a Dask scheduler address tcp://host:port")


class Netcdf(Section):
    """``sen2val-stac netcdf``: one NetCDF-4 cube per index x tile series."""

    out_dir: Folder | None
    """Where the cubes are written; null: <catalog_dir>/../netcdf."""
    asset: Text | None
    """Asset of each item to stack; null: the first of asset_preference that the series' items have."""
    asset_preference: Annotated[list[Text], Field(min_length=1)]
    """Assets to stack, in order of preference (at least one)."""
    chunks: Chunks
    """Chunks (time, y, x) of the NetCDF variable, also the Dask chunk size."""
    complevel: Annotated[int, between(0, 9)]
    """Deflate level, 0-9 (0: none), with the shuffle filter; the data chunks are deflated by libdeflate."""
    scheduler: Annotated[str, SCHEDULER]
    """threads, processes (a local Dask cluster), or the address of a Dask scheduler (tcp://host:8786)."""
    catalogue: bool
    """Catalogue the cubes in a `cubes` collection."""
    thredds_catalog: bool
    """Also write a THREDDS catalog.xml listing the cubes."""
    href_base: Url | None
    """URL where out_dir is published (cube asset hrefs); null: relative paths."""


class Cog(Section):
    """``sen2val-stac cog``: cloud-optimised GeoTIFF views beside each item (sen2val_stac/derive/cog.py)."""

    quicklook: bool
    """Write the quicklook as a web-optimised COG (EPSG:3857, deflate): the raster STAC Browser's map draws."""
    indices: bool
    """Also write COGs of the index rasters listed in index_assets, on their own grid."""
    index_assets: Annotated[list[Text], Field(min_length=1)]
    """Asset keys of the index rasters to convert (index, masked-cm001, ...)."""
    compression: Literal["deflate", "zstd", "lerc"]
    """Compression of the index COGs: deflate or zstd (lossless, predictor), or lerc (max_z_error)."""
    max_z_error: Annotated[Number, between(0)]
    """LERC only: largest error allowed per pixel, in stored int16 units (0: lossless; above 0 is refused for the
    index COGs: lossy LERC moves the nodata value 16383 into valid values)."""
    blocksize: Literal[128, 256, 512, 1024]
    """Tile size of the index COGs, pixels."""
    overview_resampling: Annotated[str, one_of(OVERVIEW_RESAMPLINGS)]
    """Resampling of the index COGs' overviews (GDAL names: average, nearest, mode...)."""
    scheduler: Annotated[str, SCHEDULER]
    """threads, processes (a local Dask cluster), or the address of a Dask scheduler (tcp://host:8786)."""

    @field_validator("max_z_error")
    @classmethod
    def _lossless_index_cogs(cls, value: float, info: ValidationInfo) -> float:
        if value > 0 and info.data.get("indices") and info.data.get("compression") == "lerc":
            raise fail("must be 0 with compression lerc and indices true: lossy LERC moves the nodata value 16383 "
                       "of the index rasters into valid values (measured: docs/performance.md)")
        return value


class Creator(Section):
    """Creator and publisher of derived datasets (NetCDF ACDD attributes, metadata records)."""

    name: Text
    """Name of the creator."""
    email: Email
    """E-mail address of the creator."""
    url: Url
    """Home page of the creator."""
    type: Annotated[str, one_of(ACDD_CREATOR_TYPES)]
    """ACDD creator_type: person, group, institution or position."""
    institution: Text
    """Institution of the creator."""


CONTACT_ID = r"^[A-Za-z0-9._-]+$"


class _ContactWho(Section):
    """Who a contact is (the first columns of geoflow's contact table)."""

    id: Annotated[str, matches(CONTACT_ID, "must be letters, digits, '.', '-' and '_' only")]
    """Identifier (geoflow matches it in the Creator column)."""
    email: Email | None = None
    organisation: Text | None = None
    position: Text | None = None
    last_name: Text | None = None
    first_name: Text | None = None


class _ContactWhere(_ContactWho):
    """Where a contact is (ISO 19115 CI_Address)."""

    address: Text | None = None
    postal_code: Scalar | None = None
    """Postal code (a number in YAML is kept as written)."""
    city: Text | None = None
    country: Text | None = None


class Contact(_ContactWhere):
    """A contact of the metadata records; only id is required."""

    phone: Scalar | None = None
    website: Url | None = None
    website_name: Text | None = None
    roles: list[Text] = Field(default_factory=list)
    """geoflow / ISO 19115 roles: owner, pointOfContact, metadata, publisher, custodian, author, processor..."""


class GeoflowActions(Section):
    """Which geoflow actions the workflow runs."""

    iso19115: bool
    """Write ISO 19115 records."""
    csw: bool
    """Publish them to a CSW."""
    geonetwork: bool
    """Publish them to GeoNetwork."""
    zenodo: bool
    """Deposit on Zenodo."""


class Geoflow(Section):
    """``sen2val-stac geoflow``: the geoflow tables and workflow."""

    out_dir: Folder | None
    """Where entities.csv, contacts.csv, workflow.json are written; null: <catalog_dir>/../geoflow."""
    per_index: bool
    """Also one entity per index (all tiles), besides one per index x tile series."""
    publication_date: Date | None
    """Publication date of the records (YYYY-MM-DD); null: the date of the newest item."""
    actions: GeoflowActions
    csw_url: Url
    """CSW endpoint of the publish action."""
    geonetwork_url: Url
    """GeoNetwork endpoint of the publish action."""
    zenodo_url: Url
    """Zenodo API of the deposit action."""


class Metadata(Section):
    """``sen2val-stac metadata``: ISO 19139 and Dublin Core records."""

    out_dir: Folder | None
    """Where the records are written; null: <catalog_dir>/../metadata."""


class Pgstac(Section):
    """``sen2val-stac pgstac load`` and the ``pgstac`` step of ``run``: the catalogue in a pgstac database."""

    dsn: Annotated[str, matches(r"^(postgres(ql)?://\S+|\s*\w+\s*=.*)$",
                                "must be a PostgreSQL connection string (postgresql://user@host:5432/db or "
                                "host=... dbname=...)")] | None
    """PostgreSQL database with PostGIS and the pgstac schema; null: no database. Password: PGPASSWORD or ~/.pgpass."""


class Run(Section):
    """``sen2val-stac run``: the chain."""

    steps: Annotated[list[Annotated[str, one_of(STEPS)]], Field(min_length=1)]
    """Steps to perform, always in chain order (`run --steps` overrides)."""
    wait: Annotated[Number, between(0)]
    """Seconds to wait for another run's catalogue lock, then exit 3 (`run --wait` overrides)."""


class Settings(Section):
    """sen2val.yaml: the configuration of every sen2val-stac command."""

    indices_dir: Folder | None
    """Sen2Chain's INDICES folder (INDICES/<INDEX>/<TILE>/<PRODUCT_ID>/); required by `run`."""
    catalog_dir: Folder | None
    """Where the static STAC catalogue is written; required by `run`."""
    root_href: Url | None
    """Published root URL of the catalogue; null: self-contained, relative links."""
    asset_href_base: Url | None
    """URL under which indices_dir is published; null: relative asset hrefs."""
    workers: Annotated[int, between(1)] | None
    """Threads reading rasters; null: one per CPU."""
    checksum: Literal["sha2-256", "none"] | None
    """Asset checksum written as file:checksum (multihash): sha2-256, or none."""
    catalog: Catalog
    organisation: Organisation
    license: Text
    """SPDX licence identifier of the data."""
    footprint: Footprint
    md_link_template: Annotated[str, placeholders("identifier", "index", "tile")] | None
    """Metadata page of a series; {identifier}, {index}, {tile} are filled in; null: no link."""
    doi: dict[str, Doi]
    """DOIs: key <INDEX>_<TILE> for one series, <INDEX> for a whole index."""
    footprints: Footprints
    cog: Cog
    netcdf: Netcdf
    creator: Creator
    contacts: list[Contact]
    """Contacts of the metadata records (geoflow contact table, ISO 19115, Dublin Core)."""
    geoflow: Geoflow
    metadata: Metadata
    pgstac: Pgstac
    run: Run

    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        """The configuration file these settings were read from (None: the defaults alone)."""
        return self._source


__all__ = ["Contact", "Section", "Settings"]
