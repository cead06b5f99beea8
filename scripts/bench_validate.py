#!/usr/bin/env python
"""Time `validate` before and after the move to a library engine, side by side, on one corrupted catalogue.

A catalogue of ``--items`` items is synthesized (scripts/make_big_catalog.py), eleven faults are written
into it (one per file: core, extension, format, unreadable, missing and unknown-schema problems), and it
is validated in this process by

- the previous implementation (``sen2val_stac/validate/validation.py`` at ``--old-rev``, loaded from git
  into a temporary module), in one process and with the CLI's default worker processes;
- the current one (``sen2val_stac.validate.validation``).

Each run gets a fresh schema store on the offline mirror (plus the project's own extension schema) (schemas read, validators built: included in
the time). The findings are compared: the same files, schemas and locations must be reported.

    python scripts/bench_validate.py --items 2000 [--workdir /tmp/bench-validate] [--schemas MIRROR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from sen2val_stac.validate import validation as new
from sen2val_stac.validate.schemas import bundled_schemas, url_to_path

REPO = Path(__file__).resolve().parents[1]
OLD_REV = "0e5c023"
"""The last commit with the self-made engine (inlined $refs, jsonschema, worker processes)."""
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"


def load_old(rev: str) -> ModuleType:
    """The validation module of ``rev`` as the module ``old_validation``."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:sen2val_stac/validate/validation.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="old-validation-")) / "old_validation.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_validation", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_validation"] = module  # worker processes unpickle its functions by this name
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    return module


def merged_mirror(mirror: Path, dest: Path) -> Path:
    """``mirror`` plus the schemas this project ships (the old implementation reads only a mirror)."""
    dest.mkdir(parents=True, exist_ok=True)
    for host in mirror.iterdir():
        if not (dest / host.name).exists():
            (dest / host.name).symlink_to(host.resolve(), target_is_directory=True)
    for url, path in bundled_schemas().items():
        target = url_to_path(dest, url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return dest


def _edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=1))


def corrupt(catalog: Path) -> list[str]:
    """Write eleven faults into the catalogue, each in its own file; returns their descriptions."""
    items = sorted(p for p in catalog.glob("*/*/*.json"))
    colls = sorted(catalog.glob("*/collection.json"))
    faults: list[tuple[str, Path, Callable[[Path], None]]] = [
        ("proj:epsg under projection v2", items[0], lambda p: _edit(p, lambda d: d["properties"].update({"proj:epsg": 32740}))),
        ("missing datetime", items[1], lambda p: _edit(p, lambda d: d["properties"].pop("datetime"))),
        ("file:size a string", items[2], lambda p: _edit(p, lambda d: next(iter(d["assets"].values())).update({"file:size": "big"}))),
        ("extension schema absent from the mirror", items[3],
         lambda p: _edit(p, lambda d: d["stac_extensions"].append("https://stac-extensions.github.io/nope/v9.9.9/schema.json"))),
        ("impossible datetime", items[4], lambda p: _edit(p, lambda d: d["properties"].update({"datetime": "2022-13-45T06:27:01Z"}))),
        ("unparsable JSON", items[5], lambda p: p.write_text('{"type": "Feature", "id": ')),
        ("linked file missing", items[6], lambda p: p.unlink()),
        ("collection without extent", colls[0], lambda p: _edit(p, lambda d: d.pop("extent"))),
        ("summary that is not a JSON schema", colls[1],
         lambda p: _edit(p, lambda d: d.setdefault("summaries", {}).update({"proj:code": {"type": "text"}}))),
        ("PROJJSON that is not a CRS", items[7], lambda p: _edit(p, lambda d: d["properties"].update({"proj:projjson": {"type": "GeographicCRS"}}))),
        ("eo:cloud_cover above 100", items[8], lambda p: _edit(p, lambda d: d["properties"].update({"eo:cloud_cover": 120}))),
    ]
    for _, path, change in faults:
        change(path)
    return [f"{name}: {path.relative_to(catalog)}" for name, path, _ in faults]


def findings(result: Any) -> set[tuple[str, str, str]]:
    """(file, schema, location) of every problem."""
    return {(e.path, e.schema, e.location) for e in result.errors}


def timed(label: str, run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds:7.2f} s   {len(result.files)} files, {len(result.invalid_files)} invalid, "
          f"{len(result.errors)} problems", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--workdir", help="where the catalogue is written (default: a temporary folder)")
    parser.add_argument("--schemas", default=str(REPO.parent / "shared" / "stac-schemas"), help="offline schema mirror")
    parser.add_argument("--old-rev", default=OLD_REV, help=f"git revision of the previous implementation (default {OLD_REV})")
    parser.add_argument("--old-workers", type=int, default=0,
                        help="worker processes of the previous CLI run (default 0: its default, one per CPU up to 8)")
    parser.add_argument("--jsonschema-alone", action="store_true",
                        help="also run the new engine without its screen (jsonschema alone; slow) and compare")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "scripts"))
    import make_big_catalog

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-validate-"))
    start = time.perf_counter()
    catalog = make_big_catalog.make(workdir, args.items)
    print(f"catalogue: {args.items} items in {catalog} ({time.perf_counter() - start:.0f} s to write)")
    for fault in corrupt(catalog):
        print(f"  fault  {fault}")

    mirror = merged_mirror(Path(args.schemas), workdir / "mirror")
    old = load_old(args.old_rev)
    workers = args.old_workers or old.default_workers()
    t_new, r_new = timed("new: fastjsonschema screen + jsonschema report", lambda: new.validate_catalog(
        catalog, new.SchemaStore(mirror=mirror)))
    t_old1, r_old1 = timed(f"old ({args.old_rev}): 1 process", lambda: old.validate_catalog(
        catalog, old.SchemaStore(mirror=mirror), workers=1))
    t_oldn, r_oldn = timed(f"old ({args.old_rev}): {workers} worker processes (CLI default)", lambda: old.validate_catalog(
        catalog, old.SchemaStore(mirror=mirror), workers=workers))
    runs = [r_new, r_old1, r_oldn]
    if args.jsonschema_alone:
        runs.append(timed("new engine, screen off (jsonschema alone)", lambda: new.validate_catalog(
            catalog, new.SchemaStore(mirror=mirror, screen=False)))[1])
    same = all(findings(r) == findings(r_new) for r in runs)
    same_files = r_new.files == r_old1.files
    print(f"\nsame findings (file, schema, location) in all runs: {same}; same files in the same order: {same_files}")
    print(f"invalid files: {len(r_new.invalid_files)} (faults written: 11)")
    if not same:
        print("  only old:", sorted(findings(r_old1) - findings(r_new)))
        print("  only new:", sorted(findings(r_new) - findings(r_old1)))
    print(f"speed-up vs old, 1 process: {t_old1 / t_new:.1f}x; vs old CLI default ({workers} processes): {t_oldn / t_new:.1f}x")
    sys.exit(0 if same and same_files else 1)


if __name__ == "__main__":
    main()
