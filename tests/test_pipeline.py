"""`sen2val-stac run`: the whole chain from one config, step failures, and the lock between real processes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pystac
import pytest

from sen2val_stac.cli import main
from sen2val_stac.core.lock import catalog_lock

STEPS = ("index", "footprints", "netcdf", "geoflow", "metadata")
LOCK_LINE = re.compile(r"^lock acquired (\S+) \(waited ([\d.]+) s\), released (\S+)$", re.M)


def _table(out: str) -> dict[str, tuple[str, str]]:
    """``{step: (status, summary)}`` from run's summary table."""
    rows = re.findall(r"^(\w+)\s+(ok|FAILED|skipped)\s+[\d.]+\s+(.*)$", out, re.M)
    return {step: (status, summary) for step, status, summary in rows}


def _lock_times(out: str) -> tuple[dt.datetime, float, dt.datetime]:
    match = LOCK_LINE.search(out)
    assert match, out
    parse = lambda s: dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    return parse(match.group(1)), float(match.group(2)), parse(match.group(3))


def _write_config(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _run_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sen2val_stac", "run", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _until_waiting(lock: Path, *procs: subprocess.Popen[str]) -> None:
    """Return once every process has the lock file open (it is in its wait loop: this test holds the lock)."""
    deadline = time.monotonic() + 120
    waiting: set[int] = set()
    while len(waiting) < len(procs):
        assert time.monotonic() < deadline, "the runs never reached the lock"
        for proc in procs:
            assert proc.poll() is None, proc.communicate()
            fds = Path(f"/proc/{proc.pid}/fd")
            try:
                if any(os.path.realpath(fd) == str(lock) for fd in fds.iterdir()):
                    waiting.add(proc.pid)
            except OSError:  # a descriptor closed while listing
                pass
        time.sleep(0.05)


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo) -> Path:
    """A folder holding sen2val.yaml: the demo's INDICES, a catalogue ./stac (not written yet), outputs beside."""
    folder = tmp_path_factory.mktemp("site")
    _write_config(folder, "sen2val.yaml", f"indices_dir: {demo[0].parent / 'INDICES'}\ncatalog_dir: ./stac\nworkers: 1\n")
    return folder


@pytest.fixture(scope="module")
def two_runs(site) -> dict[str, tuple[int, str, str]]:
    """Two real `run` processes started while this test process holds the catalogue lock, then released.

    Also a third `run` (config default wait 0) tried while the lock is held. Returns ``{name: (rc, out, err)}``.
    """
    config = str(site / "sen2val.yaml")
    results = {}
    with catalog_lock(str(site / "stac"), wait=0):
        refused = _run_cli("--config", config, "--steps", "index")
        results["refused"] = (refused.wait(timeout=120), *refused.communicate())
        chain = _run_cli("--config", config, "--wait", "300")
        index_only = _run_cli("--config", config, "--steps", "index", "--wait", "300")
        _until_waiting(site / "stac" / ".sen2val" / "lock", chain, index_only)
    for name, proc in (("chain", chain), ("index_only", index_only)):
        out, err = proc.communicate(timeout=300)
        results[name] = (proc.returncode, out, err)
    return results


def test_second_run_refused_while_the_lock_is_held(two_runs) -> None:
    rc, out, err = two_runs["refused"]
    assert rc == 3 and out == ""
    assert f"catalogue is locked by another run (pid {os.getpid()})" in err and "--wait" in err


def test_two_runs_are_serialized(two_runs) -> None:
    (rc1, out1, err1), (rc2, out2, err2) = two_runs["chain"], two_runs["index_only"]
    assert rc1 == 0 and rc2 == 0, (err1, err2)
    first, second = sorted([_lock_times(out1), _lock_times(out2)])
    assert first[2] <= second[0], "the second run acquired the lock before the first finished"
    assert second[1] > 0.5  # it was waiting before the first run started, so it waited for all of it
    added = sorted(re.search(r"added (\d+)", _table(o)["index"][1]).group(1) for o in (out1, out2))
    assert added == ["0", "30"]  # one indexed everything, the other found nothing left to do


def test_whole_chain_wrote_every_output(two_runs, site, schemas_dir) -> None:
    _rc, out, _ = two_runs["chain"]
    table = _table(out)
    assert list(table) == list(STEPS) and all(status == "ok" for status, _ in table.values())
    assert "10 layers" in table["footprints"][1] and "18 records" in table["metadata"][1]
    assert (site / "footprints/footprints_all.shp").is_file()
    assert len(list((site / "netcdf").glob("*.nc"))) == 6
    assert "netcdf/NDVI_40KCB_masked-cm001" in (site / "geoflow/entities.csv").read_text()  # netcdf ran first
    assert len(list((site / "metadata").glob("*_ISO-19139.xml"))) == 9
    assert main(["validate", str(site / "stac"), "--schemas", str(schemas_dir)]) == 0


def test_rerun_is_incremental(two_runs, site, capsys) -> None:
    assert main(["run", "--config", str(site / "sen2val.yaml")]) == 0
    table = _table(capsys.readouterr().out)
    assert table["index"][1].endswith("added 0, updated 0, removed 0, skipped 4 input(s)")
    assert table["netcdf"][1].startswith("written 0, unchanged 6 cubes")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every file below ``folder``, but the lock file and the index run report (each run
    writes its pid and its timings there)."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file() and p.name not in ("lock", "index-report.json")}


def test_rerun_on_unchanged_catalogue_writes_no_file(two_runs, site, capsys) -> None:
    assert main(["run", "--config", str(site / "sen2val.yaml")]) == 0  # settle after the other tests' runs
    before = _snapshot(site)
    assert main(["run", "--config", str(site / "sen2val.yaml")]) == 0
    table = _table(capsys.readouterr().out)
    assert "written 0, unchanged 10, removed 0" in table["footprints"][1]
    after = _snapshot(site)
    assert sorted(k for k in after if after[k] != before.get(k)) == []
    assert sorted(set(before) - set(after)) == []


def test_failed_derived_step_does_not_stop_the_others(two_runs, site, capsys) -> None:
    base = (site / "sen2val.yaml").read_text()
    blocker = site / "not-a-folder"
    blocker.write_text("a file where the footprint layers should go")
    config = _write_config(site, "bad-out.yaml", base + f"footprints:\n  out_dir: {blocker}\n")
    assert main(["run", "--config", str(config), "--steps", "footprints,geoflow,metadata"]) == 1
    table = _table(capsys.readouterr().out)
    assert table["footprints"][0] == "FAILED" and "not-a-folder" in table["footprints"][1]
    assert table["geoflow"][0] == "ok" and table["metadata"][0] == "ok"


def test_failed_index_stops_the_chain(tmp_path, capsys) -> None:
    (tmp_path / "INDICES").mkdir()
    config = _write_config(tmp_path, "sen2val.yaml", "indices_dir: INDICES\ncatalog_dir: stac\n")
    assert main(["run", "--config", str(config)]) == 1
    table = _table(capsys.readouterr().out)
    assert table["index"] == ("FAILED", f"RuntimeError: nothing could be indexed in {tmp_path / 'INDICES'}")
    assert [table[s][0] for s in STEPS[1:]] == ["skipped"] * 4
    assert not (tmp_path / "footprints").exists()


def test_missing_step_module_fails_that_step_only(two_runs, site, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sen2val_stac.derive.netcdf.export", None)  # what a missing module raises
    assert main(["run", "--config", str(site / "sen2val.yaml"), "--steps", "geoflow,netcdf"]) == 1
    table = _table(capsys.readouterr().out)
    assert table["netcdf"][0] == "FAILED" and table["netcdf"][1].startswith("step module unavailable:")
    assert "sen2val_stac.derive.netcdf.export" in table["netcdf"][1]
    assert table["geoflow"][0] == "ok"


def test_killed_run_leaves_no_stale_lock_and_a_valid_catalogue(two_runs, site, schemas_dir, capsys) -> None:
    catalog = site / "stac"
    base = (site / "sen2val.yaml").read_text()
    retitled = _write_config(site, "retitled.yaml", base + "catalog:\n  title: Retitled\n")  # every item re-rendered
    lock = catalog / ".sen2val" / "lock"
    victim = _run_cli("--config", str(retitled), "--wait", "120")
    deadline = time.monotonic() + 60
    while lock.read_text().strip() != str(victim.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert victim.poll() is None, "the run ended before it could be killed"
    time.sleep(0.3)  # mid-chain
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    with catalog_lock(str(catalog), wait=0):  # released by the kernel: no stale lock
        pass
    for path in catalog.rglob("*.json"):  # atomic writes: old or new version of each file, never half
        json.loads(path.read_text(encoding="utf-8"))
    items = list(pystac.Catalog.from_file(str(catalog / "catalog.json")).get_items(recursive=True))
    assert sorted(i.collection_id for i in items).count("cubes") == 6 and len(items) == 36  # 30 indices + 6 cubes
    assert main(["validate", str(catalog), "--schemas", str(schemas_dir)]) == 0
    assert main(["run", "--config", str(retitled), "--steps", "index"]) == 0
    assert json.loads((catalog / "catalog.json").read_text())["title"] == "Retitled"
    capsys.readouterr()



def test_next_run_removes_the_temporary_files_of_a_killed_run(two_runs, site, capsys) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_pid = int(dead.stdout)  # a process that wrote these, then died
    catalog, footprints = site / "stac", site / "footprints"
    leftovers = [catalog / f".tmp-{dead_pid}-abc-catalog.json", catalog / "ndvi" / f".tmp-{dead_pid}-x.parquet",
                 footprints / f".tmp-{dead_pid}-y-footprints_all.gpkg"]
    staging = footprints / f".tmp-layers-{dead_pid}-zz"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        busy = catalog / f".tmp-{alive.pid}-q-collection.json"  # a live writer's file (another command) stays
        for path in [*leftovers, busy]:
            path.write_text("half written")
        staging.mkdir()
        (staging / "part.shp").write_text("half written")
        assert main(["run", "--config", str(site / "sen2val.yaml"), "--steps", "index,footprints"]) == 0
        out = capsys.readouterr().out
        assert "removed 4 temporary file(s) left by a killed run" in out
        assert not any(p.exists() for p in [*leftovers, staging]) and busy.exists()
    finally:
        alive.kill()
        alive.wait()
        busy.unlink(missing_ok=True)


def test_changed_series_rewrites_only_its_own_outputs(demo, tmp_path, capsys) -> None:
    shutil.copytree(demo[0].parent / "INDICES", tmp_path / "INDICES", copy_function=os.link)
    config = _write_config(tmp_path, "sen2val.yaml", "indices_dir: INDICES\ncatalog_dir: ./stac\nworkers: 1\n")
    assert main(["run", "--config", str(config)]) == 0
    before = _snapshot(tmp_path)
    [product] = (tmp_path / "INDICES" / "NDVI" / "40KCB").glob("*_20220104T*")
    shutil.rmtree(product)  # hard links: the session's demo tree keeps its files
    assert main(["run", "--config", str(config)]) == 0
    table = _table(capsys.readouterr().out)
    assert "added 0, updated 0, removed 1," in table["index"][1], table
    after = _snapshot(tmp_path)
    changed = sorted(k for k in after if after[k] != before.get(k) and not k.startswith("INDICES/"))
    # the series' own outputs were rewritten: its footprint layer, its cube, its metadata record
    series = r"(ndvi.*40kcb|40kcb.*ndvi)"
    for own in (rf"footprints/.*{series}", rf"netcdf/.*{series}.*\.nc$", rf"metadata/.*{series}.*ISO-19139"):
        assert any(re.search(own, k, re.I) for k in changed), (own, changed)
    # no output of another series was touched (catalogue-wide files listing every series may be rewritten)
    assert [k for k in changed if re.search(r"(38KQE|ndwigao|mndwi)", k, re.I)] == [], changed
