"""The ``sen2chain`` STAC extension: the one vocabulary of ``sen2chain:*`` fields, as a pystac extension.

Which radiometric index, MGRS tile, Sentinel-2 product and cloud mask a catalogue object describes.
The field names, the schema URL and :func:`local_schemas` live in
:mod:`sen2val_stac.catalog.sen2chain_fields` (no pystac import) and are re-exported here.

Written the way pystac writes its own extensions::

    ext = Sen2ChainExtension.ext(item, add_if_missing=True)
    ext.index, ext.tile = "NDVI", "40KCB"
    Sen2ChainExtension.ext(item.assets["masked-cm001"]).mask = "CM001"
    Sen2ChainExtension.summaries(collection, add_if_missing=True).masks = ["CM001"]
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar, cast, overload

import pystac
from pystac.extensions.base import ExtensionManagementMixin, PropertiesExtension, SummariesExtension

from sen2val_stac.catalog.sen2chain_fields import (
    ASSET,
    BANDS,
    FIELDS,
    FORMULA,
    INDEX,
    MASK,
    MASKS,
    PREFIX,
    PRODUCT_ID,
    SCHEMA_FILE,
    SCHEMA_URI,
    TILE,
    local_schemas,
)

T = TypeVar("T", pystac.Item, pystac.Collection, pystac.Asset)


V = TypeVar("V")


class Field(Generic[V]):
    """A ``sen2chain:`` field as an attribute of an extension object, read and written through pystac's
    ``_get_property``/``_set_property`` as pystac's own extensions do (None removes the field)."""

    def __init__(self, name: str, kind: type[Any], doc: str) -> None:
        self.name, self.kind, self.__doc__ = name, kind, doc

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Field[V]: ...

    @overload
    def __get__(self, obj: PropertiesExtension, owner: type[Any]) -> V | None: ...

    def __get__(self, obj: PropertiesExtension | None, owner: type[Any]) -> Field[V] | V | None:
        if obj is None:
            return self
        return cast("V | None", obj._get_property(self.name, self.kind))

    def __set__(self, obj: PropertiesExtension, value: V | None) -> None:
        obj._set_property(self.name, value)


class Sen2ChainExtension(
    Generic[T],
    PropertiesExtension,
    ExtensionManagementMixin[pystac.Item | pystac.Collection],
):
    """The ``sen2chain`` extension of an Item, a Collection or an Asset; get one with :meth:`ext`."""

    name: Literal["sen2chain"] = "sen2chain"

    index = Field[str](INDEX, str, "Sen2Chain index name (``NDVI``): the folder name under ``INDICES``.")

    @classmethod
    def get_schema_uri(cls) -> str:
        """The published URL of the extension's JSON Schema."""
        return SCHEMA_URI

    @overload
    @classmethod
    def ext(cls, obj: pystac.Item, add_if_missing: bool = False) -> ItemSen2ChainExtension: ...

    @overload
    @classmethod
    def ext(cls, obj: pystac.Collection, add_if_missing: bool = False) -> CollectionSen2ChainExtension: ...

    @overload
    @classmethod
    def ext(cls, obj: pystac.Asset, add_if_missing: bool = False) -> AssetSen2ChainExtension: ...

    @classmethod
    def ext(cls, obj: pystac.Item | pystac.Collection | pystac.Asset, add_if_missing: bool = False) -> Any:
        """The extension of ``obj``; ``add_if_missing`` declares it in ``stac_extensions`` (of the owner, for an Asset).

        Raises ``pystac.ExtensionNotImplemented`` when it is not declared, ``pystac.ExtensionTypeError``
        for other objects.
        """
        if isinstance(obj, pystac.Item):
            cls.ensure_has_extension(obj, add_if_missing)
            return ItemSen2ChainExtension(obj)
        if isinstance(obj, pystac.Collection):
            cls.ensure_has_extension(obj, add_if_missing)
            return CollectionSen2ChainExtension(obj)
        if isinstance(obj, pystac.Asset):
            cls.ensure_owner_has_extension(obj, add_if_missing)
            return AssetSen2ChainExtension(obj)
        raise pystac.ExtensionTypeError(cls._ext_error_message(obj))

    @classmethod
    def summaries(cls, obj: pystac.Collection, add_if_missing: bool = False) -> SummariesSen2ChainExtension:
        """The ``sen2chain`` summaries of a Collection."""
        if not isinstance(obj, pystac.Collection):
            raise pystac.ExtensionTypeError(cls._ext_error_message(obj))
        cls.ensure_has_extension(obj, add_if_missing)
        return SummariesSen2ChainExtension(obj)


class ItemSen2ChainExtension(Sen2ChainExtension[pystac.Item]):
    """``sen2chain`` fields of an Item's properties."""

    def __init__(self, item: pystac.Item) -> None:
        self.item = item
        self.properties = item.properties

    def __repr__(self) -> str:
        return f"<ItemSen2ChainExtension Item id={self.item.id}>"

    tile = Field[str](TILE, str, "MGRS tile (``40KCB``).")
    product_id = Field[str](PRODUCT_ID, str, "Sentinel-2 L2A product id the index was computed from.")
    masks = Field[list[str]](MASKS, list, 'Cloud-mask versions with a masked raster (``["CM001", "CM003-PRB1-ITER5"]``).')
    asset = Field[str](ASSET, str, "Of a NetCDF cube item: key of the item asset the cube was built from "
                                   "(``masked-cm001``).")


class CollectionSen2ChainExtension(Sen2ChainExtension[pystac.Collection]):
    """``sen2chain`` fields of a Collection (top level, like pystac's other collection fields)."""

    formula = Field[str](FORMULA, str, "Formula of the index in Sentinel-2 band names.")
    bands = Field[list[str]](BANDS, list, "Sentinel-2 bands the formula uses.")

    def __init__(self, collection: pystac.Collection) -> None:
        self.collection = collection
        self.properties = collection.extra_fields

    def __repr__(self) -> str:
        return f"<CollectionSen2ChainExtension Collection id={self.collection.id}>"


class AssetSen2ChainExtension(Sen2ChainExtension[pystac.Asset]):
    """``sen2chain`` fields of an Asset (reads fall back on the owning Item's properties)."""

    def __init__(self, asset: pystac.Asset) -> None:
        self.asset_href = asset.href
        self.properties = asset.extra_fields
        if isinstance(asset.owner, pystac.Item):
            self.additional_read_properties = [asset.owner.properties]

    def __repr__(self) -> str:
        return f"<AssetSen2ChainExtension Asset href={self.asset_href}>"

    mask = Field[str](MASK, str, "Cloud-mask version applied to this raster.")


class SummariesSen2ChainExtension(SummariesExtension):
    """``sen2chain`` summaries of a Collection."""

    @property
    def masks(self) -> list[str] | None:
        """Every cloud-mask version found in the collection's items."""
        return self.summaries.get_list(MASKS)

    @masks.setter
    def masks(self, v: list[str] | None) -> None:
        self._set_summary(MASKS, v)


__all__ = [
    "ASSET", "BANDS", "FIELDS", "FORMULA", "INDEX", "MASK", "MASKS", "PREFIX", "PRODUCT_ID", "SCHEMA_FILE",
    "SCHEMA_URI", "TILE", "AssetSen2ChainExtension", "CollectionSen2ChainExtension", "ItemSen2ChainExtension",
    "Sen2ChainExtension", "SummariesSen2ChainExtension", "local_schemas",
]
