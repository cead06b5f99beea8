"""First index spread over a Dask distributed cluster (a real LocalCluster on 127.0.0.1), and the local pool.

The catalogue written must be the same bytes whichever way the rasters were read: in-process, by a
local pool of threads, or by the workers of a Dask scheduler given by its tcp:// address.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sen2val_stac.catalog.indexer import POOL_THRESHOLD, index_tree
from sen2val_stac.catalog.state import load_state
from sen2val_stac.cli import main
from sen2val_stac.config import load_config
from sen2val_stac.core import constants as C
from sen2val_stac.demo.tree import ProductSpec, write_tree

START = datetime(2021, 1, 3, 6, 36, 11, tzinfo=timezone.utc)


def _files(catalog: Path) -> dict[str, Any]:
    """Every file of the catalogue (items, collections, root, thumbnails, parquet), not the report or lock; the
    state database by content (its pages follow the order in which results arrived)."""
    files: dict[str, Any] = {str(p.relative_to(catalog)): p.read_bytes() for p in sorted(catalog.rglob("*"))
                             if p.is_file() and p.name not in ("index-report.json", "lock", C.STATE_FILE)}
    files[C.STATE_FILE] = load_state(str(catalog))
    return files


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten products on two tiles: partial swaths, two masks, one truncated masked raster, one bad raw raster."""
    indices = tmp_path_factory.mktemp("dist") / "INDICES"
    specs = []
    for i in range(10):
        specs.append(ProductSpec(
            index="NDVI", tile=("40KCB", "38KQE")[i % 2], sensing=START + timedelta(days=5 * i), resolution=360.0,
            swath="partial" if i % 3 == 0 else "full", masks=("CM001", "CM003-PRB1-ITER5") if i % 4 == 0 else ("CM001",),
            truncate="CM001" if i == 5 else ("index" if i == 7 else None)))
    write_tree(indices, specs)
    return indices


@pytest.fixture(scope="module")
def local_catalog(tree: Path) -> dict[str, Any]:
    catalog = tree.parent / "local"
    report = index_tree(str(tree), str(catalog), load_config(None), workers=1, progress=False)
    assert report.items_total == 9 and any("truncated" in s["reason"] for s in report.skipped)
    return _files(catalog)


def test_local_pool_writes_the_same_bytes(tree: Path, local_catalog: dict[str, Any]) -> None:
    assert len(list(tree.glob("*/*/*"))) >= POOL_THRESHOLD  # so that the pool is used
    catalog = tree.parent / "pool"
    report = index_tree(str(tree), str(catalog), load_config(None), workers=2, progress=False)
    assert report.items_total == 9
    assert _files(catalog) == local_catalog


def test_dask_scheduler_writes_the_same_bytes(tree: Path, local_catalog: dict[str, Any]) -> None:
    distributed = pytest.importorskip("distributed")
    catalog = tree.parent / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, host="127.0.0.1",
                                  protocol="tcp", dashboard_address="127.0.0.1:0") as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        assert main(["index", str(tree), "--catalog", str(catalog), "--scheduler", address, "--no-progress"]) == 0
        with distributed.Client(address) as client:  # the tasks ran on the cluster's workers
            processed = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.transition_log))
        assert processed > 0
    files = _files(catalog)
    assert sorted(files) == sorted(local_catalog)
    assert [name for name in files if files[name] != local_catalog[name]] == []
    # A re-run needs no cluster: nothing changed, nothing is read, nothing written.
    report = index_tree(str(tree), str(catalog), load_config(None), workers=1, progress=False,
                        scheduler="tcp://127.0.0.1:9")
    assert report.files_written == 0 and report.unchanged == 9


def test_bad_scheduler_address_is_an_input_error(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(tree), "--catalog", str(tmp_path / "c"), "--scheduler", "8786"]) == 2
    assert "--scheduler '8786'" in capsys.readouterr().err
    pytest.importorskip("distributed")
    # Nothing listens on port 9 of 127.0.0.1 (discard): the connection is refused, the run stops with exit 2.
    code = main(["index", str(tree), "--catalog", str(tmp_path / "d"), "--scheduler", "tcp://127.0.0.1:9",
                 "--no-progress"])
    assert code == 2
    assert "cannot connect to the Dask scheduler" in capsys.readouterr().err
