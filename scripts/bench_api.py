#!/usr/bin/env python
"""STAC API benchmark: start time and search latency per back-end, side by side in one run.

    python scripts/make_big_catalog.py /tmp/big10k --items 10000      # catalogues to measure
    python scripts/make_big_catalog.py /tmp/big100k --items 100000
    python scripts/bench_api.py /tmp/big10k/catalog /tmp/big100k/catalog [--backend embedded] [--repeat 7]

Each back-end is a context manager in :data:`BACKENDS` (name -> ``start(catalog_dir)`` yielding the API's
landing-page URL); "embedded" is ``sen2val-stac serve CATALOG --api`` in a subprocess. A second back-end
(pgstac: load the catalogue, start stac-fastapi-pgstac) registers itself the same way. "ready" is the time
from start (and load) to the first answer.

Requests (GET, real HTTP on 127.0.0.1, one client): bbox + datetime (the first 40 % of the catalogue's time
span) + collection (limit 10), a CQL2 text
filter on item properties (limit 100), one id, and paging 1,000 items 100 a page through the next links.
Times are medians (and the slowest) over ``--repeat`` runs after one warm-up request.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import requests

BBOX = "55.2,-21.5,55.9,-21.0"  # inside tile 40KCB
CQL2 = "\"eo:cloud_cover\" < 21 AND \"sen2chain:tile\" = '40KCB'"


@contextmanager
def embedded(catalog: Path) -> Iterator[str]:
    """``sen2val-stac serve CATALOG --api --port 0``; yields the landing page URL."""
    proc = subprocess.Popen([sys.executable, "-m", "sen2val_stac", "serve", str(catalog), "--api", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    found: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("STAC API: "):
                found.append(line.split(": ", 1)[1].strip())

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 300
        while not found and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not found:
            raise RuntimeError(f"serve --api did not start on {catalog}")
        requests.get(found[0], timeout=300).raise_for_status()  # the first answer: the index is loaded
        yield found[0]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def pgstac(catalog: Path) -> Iterator[str]:
    """``sen2val-stac pgstac load`` into a new database of a throw-away PostgreSQL 15 + PostGIS cluster
    (tests/pg_server.py: initdb as the postgres user, fsync off), then again with nothing changed (the
    incremental check), then ``uvicorn sen2val_stac.serve.pgstac.app:create_app --factory``; both load times
    go to stderr ("ready" includes the first)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from pg_server import ONE_ORIGIN_APP, free_port, shared_server, stop_shared, uvicorn_app

    from sen2val_stac.serve.pgstac import load_catalog

    server = shared_server()
    try:
        dsn, port = server.database(), free_port()
        root = f"http://127.0.0.1:{port}/"
        for what in ("load", "reload (unchanged)"):
            t = time.perf_counter()
            report = load_catalog(catalog, dsn, root_href=root)
            print(f"pgstac {what}: {time.perf_counter() - t:.1f} s ({report.summary()})", file=sys.stderr)
        env = {**server.env(dsn.rsplit("/", 1)[1]), "SEN2VAL_CATALOG": str(catalog)}
        with uvicorn_app(ONE_ORIGIN_APP, env, port) as url:
            yield url
    finally:
        stop_shared()


BACKENDS: dict[str, Callable[[Path], AbstractContextManager[str]]] = {"embedded": embedded, "pgstac": pgstac}


def _datetime(catalog: Path) -> str:
    """The first 40 % of the catalogue's time span, as a STAC datetime interval."""
    times = pq.read_table(catalog / "items.parquet", columns=["datetime"]).column("datetime").to_pandas()
    start, end = times.min(), times.min() + (times.max() - times.min()) * 0.4
    return f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"


def _one_id(catalog: Path) -> str:
    ids = pq.read_table(catalog / "items.parquet", columns=["id"]).column("id")
    return str(ids[len(ids) // 2])


def _page_through(url: str, wanted: int) -> int:
    seen = 0
    while url and seen < wanted:
        page = requests.get(url, timeout=120).json()
        seen += len(page["features"])
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), "")
    return seen


def cases(root: str, catalog: Path) -> dict[str, Callable[[], Any]]:
    """Named requests against the API at ``root``; each returns how many items it got."""
    search = root.rstrip("/") + "/search"
    item_id = _one_id(catalog)

    def get(params: dict[str, Any]) -> Callable[[], int]:
        def run() -> int:
            response = requests.get(search, params=params, timeout=120)
            response.raise_for_status()
            return len(response.json()["features"])
        return run

    return {
        "bbox+datetime": get({"bbox": BBOX, "datetime": _datetime(catalog), "collections": "ndvi", "limit": 10}),
        "cql2 filter": get({"filter": CQL2, "filter-lang": "cql2-text", "limit": 100}),
        "one id": get({"ids": item_id}),
        "page 1,000": lambda: _page_through(f"{search}?limit=100", 1000),
    }


def measure(run: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median, slowest) in ms after one warm-up call, and the last result."""
    result = run()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = run()
        times.append(1000 * (time.perf_counter() - t))
    return statistics.median(times), max(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("catalogs", nargs="+", type=Path, help="catalogue folders (with items.parquet)")
    parser.add_argument("--backend", action="append", choices=sorted(BACKENDS), help="default: every back-end")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rows = []
    for catalog in args.catalogs:
        n = pq.read_metadata(catalog / "items.parquet").num_rows
        for name in args.backend or sorted(BACKENDS):
            started = time.perf_counter()
            with BACKENDS[name](catalog) as root:
                ready = time.perf_counter() - started
                rows.append((f"{n:,}", name, "ready (start + load)", f"{ready:.1f} s", "", ""))
                for case, run in cases(root, catalog).items():
                    median, slowest, got = measure(run, args.repeat)
                    rows.append((f"{n:,}", name, case, f"{median:.0f} ms", f"{slowest:.0f} ms", str(got)))
                print(f"done: {name} on {n:,} items", file=sys.stderr)
    header = ("items", "back-end", "request", "median", "slowest", "items returned")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
