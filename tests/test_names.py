"""Sen2Chain name parsing."""

from __future__ import annotations

import pytest

from sen2val_stac.tree.names import (
    InvalidName,
    asset_key,
    parse_product_id,
    parse_raster_name,
    parse_tile,
)

PID = "S2A_MSIL2A_20160417T063512_N0201_R134_T40KCB_20160417T063510"


def test_product_id_uses_sensing_start_not_discriminator() -> None:
    p = parse_product_id("S2B_MSIL2A_20191231T063511_N9999_R134_T40KCB_20200101T101010")
    assert p.sensing.isoformat() == "2019-12-31T06:35:11+00:00"
    assert (p.platform, p.baseline, p.relative_orbit, p.tile) == ("sentinel-2b", "9999", 134, "40KCB")
    assert p.processing_version == "99.99"


@pytest.mark.parametrize("name", ["S2A_MSIL2A_20160417T063512_N0201_R134_T40KCB", "foo", PID + "_x"])
def test_bad_product_ids(name: str) -> None:
    with pytest.raises(InvalidName):
        parse_product_id(name)


def test_tiles() -> None:
    assert parse_tile("40KCB").epsg == 32740
    assert parse_tile("38KQE").epsg == 32738
    assert parse_tile("31UDQ").epsg == 32631
    for bad in ("40ICB", "61KCB", "4KCB", "40KCBB"):
        with pytest.raises(InvalidName):
            parse_tile(bad)


@pytest.mark.parametrize(
    ("suffix", "kind", "mask", "key"),
    [
        (".jp2", "index", None, "index"),
        ("_CM001.jp2", "masked", "CM001", "masked-cm001"),
        ("_CM002-B11.jp2", "masked", "CM002-B11", "masked-cm002-b11"),
        ("_CM003-PRB1-ITER5.jp2", "masked", "CM003-PRB1-ITER5", "masked-cm003-prb1-iter5"),
        ("_CM004-CSH1-CMP1-CHP1-TCI1-ITER0.jp2", "masked", "CM004-CSH1-CMP1-CHP1-TCI1-ITER0",
         "masked-cm004-csh1-cmp1-chp1-tci1-iter0"),
        ("_OCM_v1_0_0.jp2", "masked", "OCM_v1_0_0", "masked-ocm-v1-0-0"),
        ("_MASKED.tif", "masked", "CM001", "masked-cm001"),
        ("_CM001_QL.tif", "quicklook", "CM001", "quicklook-cm001"),
        ("_QUICKLOOK.tif", "quicklook", "CM001", "quicklook-cm001"),
    ],
)
def test_raster_names(suffix: str, kind: str, mask: str | None, key: str) -> None:
    r = parse_raster_name(f"{PID}_NDVI{suffix}", PID, "NDVI")
    assert (r.kind, r.mask) == (kind, mask)
    assert asset_key(r.kind, r.mask) == key


@pytest.mark.parametrize("name", [f"{PID}_NDVI_CM9.jp2", f"{PID}_NDVI.xml", f"{PID}_EVI.jp2", "notes.txt"])
def test_bad_raster_names(name: str) -> None:
    with pytest.raises(InvalidName):
        parse_raster_name(name, PID, "NDVI")
