"""`cog`: COG views of the quicklooks and index rasters, catalogued as item assets; incremental, kept by `index`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.enums
from rio_cogeo.cogeo import cog_validate

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.config import ConfigError, load_config
from sen2val_stac.derive.cog import COG_MEDIA_TYPE, write_cogs
from sen2val_stac.pipeline import run_chain

ITEM = "ndvi/40KCB/NDVI_40KCB_20220104.json"


def _copy(demo, dest: Path) -> Path:
    for name in ("INDICES", "catalog"):
        shutil.copytree(demo[0].parent / name, dest / name)
    return dest / "catalog"


def _config(**cog) -> dict:
    config = load_config(None)
    config["cog"] = {**config.get("cog", {}), **cog}
    return config


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def cogged(demo, tmp_path_factory):
    """A copy of the demo with quicklook and index COGs written once: ``(catalog, config, report)``."""
    catalog = _copy(demo, tmp_path_factory.mktemp("cog"))
    config = _config(indices=True)
    return catalog, config, write_cogs(catalog, config)


def test_cogs_written_valid_and_catalogued(cogged) -> None:
    catalog, _, report = cogged
    assert report.errors == [] and report.items_written == 30
    assert len([w for w in report.written if w.endswith("_visual.tif")]) == 30
    assert not list(catalog.rglob(".tmp-*"))
    item = json.loads((catalog / ITEM).read_text())
    visual, data = item["assets"]["visual"], item["assets"]["masked-cm001-cog"]
    assert visual["type"] == data["type"] == COG_MEDIA_TYPE == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert visual["roles"] == ["overview", "visual"] and data["roles"] == ["data"]
    assert visual["proj:code"] == "EPSG:3857" and data["proj:code"] == item["properties"]["proj:code"]
    folder = (catalog / ITEM).parent
    for key, asset in item["assets"].items():
        if asset["type"] != COG_MEDIA_TYPE:
            continue
        path = (folder / asset["href"]).resolve()
        valid, errors, _ = cog_validate(str(path), quiet=True)
        assert valid, (key, errors)
        assert asset["file:size"] == path.stat().st_size
        original = item["assets"][key.removesuffix("-cog")] if key != "visual" else item["assets"]["quicklook"]
        assert asset["alternate"]["original"]["href"] == original["href"]
        assert (folder / original["href"]).resolve().is_file()
    with rasterio.open(folder / data["href"]) as cog, rasterio.open(folder / item["assets"]["masked-cm001"]["href"]) as jp2:
        np.testing.assert_array_equal(cog.read(1), jp2.read(1))  # deflate: lossless against the decoded JPEG2000
        assert cog.nodata == 16383 and cog.profile["blockxsize"] == 512 and cog.compression.name == "deflate"
        assert data["raster:bands"][0]["scale"] == item["assets"]["masked-cm001"]["raster:bands"][0]["scale"]
    with rasterio.open(folder / visual["href"]) as view:
        assert view.crs.to_epsg() == 3857 and view.count == 4 and view.nodata is None
        assert view.colorinterp[3] == rasterio.enums.ColorInterp.alpha  # nodata is transparent, not drawn black
        alpha = view.read(4)
        assert (view.read(1)[alpha > 0] > 0).sum() > 10_000  # the quicklook's pixels, not an empty canvas
        assert (alpha == 0).sum() > 1_000 and set(np.unique(alpha)) <= {0, 255}


def test_catalogue_with_cogs_is_valid(cogged, schemas_dir) -> None:
    from sen2val_stac.validate.validation import SchemaStore, validate_document

    catalog, _, _ = cogged
    item = json.loads((catalog / ITEM).read_text())
    assert not validate_document(item, ITEM, SchemaStore(mirror=schemas_dir))


def test_no_op_runs_write_nothing_and_index_reruns_keep_the_assets(demo, tmp_path) -> None:
    catalog = _copy(demo, tmp_path)
    config = _config()
    indices = catalog.parent / "INDICES"
    write_cogs(catalog, config)
    before = _mtimes(catalog)
    again = write_cogs(catalog, config)
    assert again.written == [] and again.items_written == 0 and again.unchanged == 30
    assert _mtimes(catalog) == before  # a no-op cog run writes nothing
    report = index_tree(str(indices), str(catalog), config, progress=False)
    assert report.files_written == 0 and not report.changed
    assert _mtimes(catalog) == before  # a no-op index run writes nothing either (parquet and state included)
    # a configuration change re-renders every item: the COG assets stay
    retitled = _config()
    retitled["catalog"]["title"] = "Retitled"
    report = index_tree(str(indices), str(catalog), retitled, progress=False)
    assert report.files_written > 30
    assert "visual" in json.loads((catalog / ITEM).read_text())["assets"]
    # a changed source raster: its item is re-rendered without the stale COG until the next cog run
    item = json.loads((catalog / ITEM).read_text())
    quicklook = (catalog / ITEM).parent / item["assets"]["quicklook"]["href"]
    with rasterio.open(quicklook, "r+") as ds:
        data = ds.read()
        data[:, :10, :10] = 200
        ds.write(data)
    index_tree(str(indices), str(catalog), retitled, progress=False)
    assert "visual" not in json.loads((catalog / ITEM).read_text())["assets"]
    report = write_cogs(catalog, retitled)
    assert report.written == ["ndvi/40KCB/NDVI_40KCB_20220104_visual.tif"] and report.items_written == 1
    assert "visual" in json.loads((catalog / ITEM).read_text())["assets"]


def test_settings_change_rewrites_and_removes(demo, tmp_path) -> None:
    catalog = _copy(demo, tmp_path)
    write_cogs(catalog, _config(indices=True, index_assets=["index"]))
    with pytest.raises(ConfigError, match=r"cog.max_z_error.*lossy LERC moves the nodata value 16383"):
        write_cogs(catalog, _config(indices=True, index_assets=["index"], compression="lerc", max_z_error=4))
    report = write_cogs(catalog, _config(indices=True, index_assets=["index"], compression="lerc", max_z_error=0))
    assert len(report.written) == 30 and report.unchanged == 30  # the index COGs only; the views stay
    item = json.loads((catalog / ITEM).read_text())
    folder = (catalog / ITEM).parent
    with rasterio.open(folder / item["assets"]["index-cog"]["href"]) as cog, \
            rasterio.open(folder / item["assets"]["index"]["href"]) as jp2:
        assert cog.compression.name == "lerc"
        diff = np.abs(cog.read(1).astype(np.int32) - jp2.read(1))
        assert diff.max() == 0 and cog.nodata == 16383  # lossless LERC: the nodata value survives
    report = write_cogs(catalog, _config(indices=False))
    assert len(report.removed) == 30 and not list(catalog.rglob("*_index.tif"))
    assert "index-cog" not in json.loads((catalog / ITEM).read_text())["assets"]


def test_vanished_item_loses_its_cogs(demo, tmp_path) -> None:
    catalog = _copy(demo, tmp_path)
    config = _config()
    write_cogs(catalog, config)
    product = json.loads((catalog / ITEM).read_text())["properties"]["sen2chain:product_id"]
    shutil.rmtree(catalog.parent / "INDICES" / "NDVI" / "40KCB" / product)
    index_tree(str(catalog.parent / "INDICES"), str(catalog), config, progress=False)
    report = write_cogs(catalog, config)
    assert report.removed == ["ndvi/40KCB/NDVI_40KCB_20220104_visual.tif"]


def test_killed_run_keeps_its_finished_batches_and_a_failed_rewrite_keeps_the_old_cog(demo, tmp_path,
                                                                                       monkeypatch) -> None:
    import sen2val_stac.derive.cog as cog_module
    from sen2val_stac.catalog.state import StateStore, load_state

    catalog = _copy(demo, tmp_path)
    config = _config()
    real = cog_module.write_cog
    calls = []

    def dies_at_the_twelfth(job, settings, creation=None):
        calls.append(job.item_id)
        if len(calls) == 12:
            raise KeyboardInterrupt  # not an Exception: the run stops, as when killed
        return real(job, settings, creation)

    monkeypatch.setattr(cog_module, "JOB_BATCH", 5)
    monkeypatch.setattr(cog_module, "write_cog", dies_at_the_twelfth)
    with pytest.raises(KeyboardInterrupt):
        write_cogs(catalog, config)
    records = load_state(catalog)["items"]
    done = sorted(i for i, r in records.items() if r.get("cog"))
    assert done == sorted(calls[:10])  # two whole batches committed, items and state alike
    for item_id in done:
        item = next(catalog.rglob(f"{item_id}.json"))
        assert "visual" in json.loads(item.read_text())["assets"]
    monkeypatch.setattr(cog_module, "write_cog", real)
    report = write_cogs(catalog, config)
    assert report.unchanged == 10 and len(report.written) == 20 and not report.errors
    # a source that changed and whose new COG fails: the item keeps its old COG file, nothing is deleted
    item_path = catalog / ITEM
    view = item_path.parent / json.loads(item_path.read_text())["assets"]["visual"]["href"]
    with StateStore.open(str(catalog)) as store:
        record = store.get("NDVI_40KCB_20220104")
        record["cog"]["visual"]["digest"] = "stale"
        store.put(record)
        store.commit()

    def fails(job, settings, creation=None):
        raise OSError("disk full")

    monkeypatch.setattr(cog_module, "write_cog", fails)
    report = write_cogs(catalog, config)
    assert len(report.errors) == 1 and "disk full" in report.errors[0] and report.removed == []
    assert view.is_file() and "visual" in json.loads(item_path.read_text())["assets"]


def test_cli_run_step_and_dask_scheduler(demo, tmp_path) -> None:
    catalog = _copy(demo, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "sen2val_stac.cli", "cog", str(catalog), "--scheduler", "processes"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert "written 30, unchanged 0" in proc.stdout
    config = _config(indices=True, index_assets=["index"])
    config["catalog_dir"] = str(catalog)
    report = run_chain(config, steps=["cog"])
    assert report.ok and "written 30, unchanged 30 COGs" in report.results[0].summary, report.results
    proc = subprocess.run([sys.executable, "-m", "sen2val_stac.cli", "cog", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "run `sen2val-stac index` first" in proc.stderr
