"""The demo: a small realistic Sen2Chain tree, indexed into a catalogue, with no other input."""

from __future__ import annotations

import shutil
from pathlib import Path

from sen2val_stac.catalog.indexer import IndexReport, index_tree
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import write_demo_tree


def build_demo(workdir: str | Path, workers: int | None = None, progress: bool | None = False) -> tuple[Path, IndexReport]:
    """Write ``workdir/INDICES`` (fresh) and index it into ``workdir/catalog``; return the catalogue folder and report."""
    workdir = Path(workdir).resolve()
    indices = workdir / "INDICES"
    if indices.exists():
        shutil.rmtree(indices)
    write_demo_tree(indices)
    catalog = workdir / "catalog"
    report = index_tree(str(indices), str(catalog), load_config(None), workers=workers, progress=progress)
    return catalog, report
