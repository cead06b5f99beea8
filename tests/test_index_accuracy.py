"""What the indexer computes from decimated reads, against a full-resolution reference of the same files.

The indexer decodes the raw index once (a low JPEG2000 resolution level) and each quicklook once, and
derives the masked rasters' clear pixels from the quicklooks instead of decoding them. The reference
here decodes every pixel of the raw and masked rasters at full resolution and applies the project's
validity rule (docs/catalogue.md: values within ``footprint.nodata_tolerance`` of nodata, or outside
the index's ``valid_range``, are not valid). Footprint area within 1 %, cloud cover within 1 point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from sen2val_stac.catalog.indexer import index_tree, load_state
from sen2val_stac.config import load_config
from sen2val_stac.core.templates import index_definition
from sen2val_stac.demo.tree import TILES, ProductSpec, write_product

START = datetime(2022, 2, 1, 6, 36, 11, tzinfo=timezone.utc)
RESOLUTION = 60.0  # 1830 x 1830 px: the decimated read (458 px) is 4x coarser than the reference


@dataclass
class Reference:
    valid_area: float  # m², pixels valid in the raw index
    cloud_cover: float  # %, raw-valid pixels that the default mask (CM001) masks
    masked_mean: float
    masked_valid_percent: float


def _valid(data: np.ndarray, nodata: float, tolerance: float, valid_range: tuple[float, float]) -> np.ndarray:
    low, high = valid_range
    return (np.abs(data.astype("int32") - int(nodata)) > tolerance) & (data >= low) & (data <= high)


def reference(folder: Path, index: str) -> Reference:
    """Full-resolution validity of the raw and CM001-masked rasters of one product folder."""
    tolerance = float(load_config(None)["footprint"]["nodata_tolerance"])
    valid_range = index_definition(index)["valid_range"]
    with rasterio.open(next(folder.glob(f"*_{index}.jp2"))) as ds:
        raw = _valid(ds.read(1), ds.nodata, tolerance, valid_range)
        pixel_area = abs(ds.transform.a * ds.transform.e)
    with rasterio.open(next(folder.glob(f"*_{index}_CM001.jp2"))) as ds:
        data = ds.read(1)
        masked = _valid(data, ds.nodata, tolerance, valid_range)
    return Reference(
        valid_area=float(raw.sum()) * pixel_area,
        cloud_cover=100.0 * (1 - float((raw & masked).sum()) / float(raw.sum())),
        masked_mean=float(data[masked].mean()),
        masked_valid_percent=100.0 * float(masked.mean()),
    )


def whiten_clouds(folder: Path, index: str) -> None:
    """Render the masked pixels of the CM001 quicklook white, as Sen2Chain's own quicklooks do."""
    path = next(folder.glob(f"*_{index}_CM001_QL.tif"))
    with rasterio.open(path) as ds:
        ql, profile = ds.read(), ds.profile
    with rasterio.open(next(folder.glob(f"*_{index}.jp2"))) as ds:
        raw = ds.read(1, out_shape=ql.shape[1:]) != ds.nodata
    cloudy = raw & np.all(ql == 0, axis=0)
    assert cloudy.mean() > 0.1
    ql[:, cloudy] = 255
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(ql)


CASES = {
    "full": dict(swath="full", cloud_fraction=0.2),
    "partial": dict(swath="partial", cloud_fraction=0.2),
    "partial-cloudy": dict(swath="partial", cloud_fraction=0.55),
    "partial-white-clouds": dict(swath="partial", cloud_fraction=0.3),
    "partial-no-quicklook": dict(swath="partial", cloud_fraction=0.3, quicklook=False),  # masked raster decoded
    "two-masks": dict(swath="partial", cloud_fraction=0.25, masks=("CM001", "CM003-PRB1-ITER5")),
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], dict[str, Reference], dict[str, dict]]:
    root = tmp_path_factory.mktemp("accuracy")
    indices = root / "INDICES"
    folders = {}
    for i, (name, kw) in enumerate(CASES.items()):
        spec = ProductSpec(index="NDVI", tile="40KCB", sensing=START + timedelta(days=5 * i), resolution=RESOLUTION, **kw)
        folders[name] = write_product(indices, spec)
    whiten_clouds(folders["partial-white-clouds"], "NDVI")
    report = index_tree(str(indices), str(root / "catalog"), load_config(None), workers=1, progress=False)
    assert report.items_total == len(CASES) and not report.skipped
    items = {}
    for path in (root / "catalog").rglob("NDVI_*.json"):
        item = json.loads(path.read_text())
        items[item["properties"]["sen2chain:product_id"]] = item
    records = {r["product_id"]: r for r in load_state(str(root / "catalog"))["items"].values()}
    by_case = {name: items[folder.name] for name, folder in folders.items()}
    refs = {name: reference(folder, "NDVI") for name, folder in folders.items()}
    return by_case, refs, {name: records[folder.name] for name, folder in folders.items()}


def _utm_area(geometry: dict, epsg: int) -> float:
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    return float(shapely.transform(shape(geometry), lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))).area)


@pytest.mark.parametrize("case", sorted(CASES))
def test_footprint_area_within_one_percent(indexed, case: str) -> None:
    items, refs, _ = indexed
    area = _utm_area(items[case]["geometry"], TILES["40KCB"][0])
    assert abs(area - refs[case].valid_area) / refs[case].valid_area < 0.01, (area, refs[case].valid_area)
    if case != "full":
        assert area < 0.8 * 109_800.0**2  # a partial swath is not the tile square


@pytest.mark.parametrize("case", sorted(CASES))
def test_cloud_cover_within_one_point(indexed, case: str) -> None:
    items, refs, _ = indexed
    cloud = items[case]["properties"]["eo:cloud_cover"]
    assert abs(cloud - refs[case].cloud_cover) < 1.0, (cloud, refs[case].cloud_cover)
    assert cloud > 10  # the products do have clouds: a cloud cover of 0 would fail


@pytest.mark.parametrize("case", ["partial", "partial-white-clouds", "partial-no-quicklook", "two-masks"])
def test_masked_statistics_close_to_full_resolution(indexed, case: str) -> None:
    items, refs, _ = indexed
    stats = items[case]["assets"]["masked-cm001"]["raster:bands"][0]["statistics"]
    assert abs(stats["valid_percent"] - refs[case].masked_valid_percent) < 1.0
    assert abs(stats["mean"] - refs[case].masked_mean) < 0.005 * 20000  # 0.5 % of the value range


def test_masked_rasters_decoded_only_without_quicklook(indexed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The decode saving is real: with a quicklook the masked JPEG2000 is opened for its header only."""
    from sen2val_stac.tree import record as record_module

    _, _, records = indexed
    decoded: list[str] = []
    real = record_module.read_sample

    def spy(path: str, *args, **kwargs):
        decoded.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(record_module, "read_sample", spy)
    indices = tmp_path / "INDICES"
    for i, ql in enumerate((True, False)):
        write_product(indices, ProductSpec(index="NDVI", tile="40KCB", sensing=START + timedelta(days=i), resolution=360.0,
                                           swath="partial", quicklook=ql))
    report = index_tree(str(indices), str(tmp_path / "catalog"), load_config(None), workers=1, progress=False)
    assert report.items_total == 2
    masked = sorted(name for name in decoded if name.endswith("_CM001.jp2"))
    assert len(masked) == 1 and "20220202" in masked[0]  # only the product without a quicklook
    assert sum(name.endswith("_NDVI.jp2") for name in decoded) == 2
    # The partial swath's cloud cover is the share of the swath, not of the tile.
    assert 5 < records["partial"]["cloud_cover"] < 60


@pytest.mark.parametrize("shape_px", [(500, 500), (458, 457), (19, 19)])
def test_full_tile_outline_is_what_tracing_gives(shape_px: tuple[int, int]) -> None:
    """A sample with every pixel valid skips the sieve and tracing: its outline is the traced polygon, vertex for vertex."""
    from affine import Affine
    from rasterio.features import shapes

    from sen2val_stac.tree.footprint import valid_polygon

    transform = (219.6, 0.0, 300000.0, 0.0, -219.6, 7700020.0)
    valid = np.ones(shape_px, dtype=bool)
    (traced, _), = shapes(valid.astype(np.uint8), mask=valid, transform=Affine(*transform), connectivity=8)
    assert list(valid_polygon(valid, transform).exterior.coords) == [tuple(p) for p in traced["coordinates"][0]]
    valid[0, 0] = False  # one pixel short of full: traced (the corner notch is below the sieve, so the outline stays)
    assert valid_polygon(valid, transform).area == pytest.approx(shape_px[0] * shape_px[1] * 219.6**2, rel=1e-6)
