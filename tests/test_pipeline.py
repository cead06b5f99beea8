"""The whole chain from one config: init-config, config errors, the lock between two real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sen2val_stac.cli import main
from sen2val_stac.commands.init_config import example_config
from sen2val_stac.config import ConfigError, defaults, load_config
from sen2val_stac.lock import catalog_lock


def _keys(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict) and v and prefix + k not in ("doi",):
            out |= _keys(v, prefix + k + ".")
    return out


def test_init_config_covers_every_key(tmp_path) -> None:
    path = tmp_path / "sen2val.yaml"
    assert main(["init-config", str(path)]) == 0
    assert main(["init-config", str(path)]) == 1
    assert main(["init-config", str(path), "--force"]) == 0
    assert _keys(yaml.safe_load(path.read_text())) == _keys(defaults())
    config = load_config(path)
    assert config["indices_dir"] == "/DATA/S2/PRODUCTS/INDICES"
    assert config["catalog_dir"] == str(tmp_path / "stac")
    assert example_config().startswith("# sen2val-stac configuration")


@pytest.mark.parametrize(("text", "message"), [
    ("catalogue_dir: x\n", "unknown key 'catalogue_dir'"),
    ("footprint:\n  read_sise: 3\n", "unknown key 'footprint.read_sise'"),
    ("workers: many\n", "key 'workers'"),
    ("footprint: 3\n", "key 'footprint' must be a mapping"),
    ("netcdf:\n  chunks: 5\n", "key 'netcdf.chunks' must be list"),
    ("a: [\n", "not valid YAML"),
])
def test_config_errors_name_key_and_file(tmp_path, text, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and str(path) in str(err.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    assert main(["run", "--config", str(path)]) == 2


def _config_file(demo, tmp_path: Path) -> Path:
    path = tmp_path / "sen2val.yaml"
    path.write_text(f"indices_dir: {demo[0].parent / 'INDICES'}\ncatalog_dir: ./stac\nworkers: 1\n")
    return path


def test_run_whole_chain(demo, tmp_path, capsys, schemas_dir) -> None:
    config = _config_file(demo, tmp_path)
    assert main(["run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    for step in ("index", "footprints", "netcdf", "geoflow", "metadata"):
        assert f"\n{step}" in "\n" + out
    assert "FAILED" not in out
    assert (tmp_path / "footprints/footprints_all.shp").is_file()
    assert len(list((tmp_path / "netcdf").glob("*.nc"))) == 6
    assert "netcdf/NDVI_40KCB_masked-cm001" in (tmp_path / "geoflow/entities.csv").read_text()
    assert len(list((tmp_path / "metadata").glob("*_ISO-19139.xml"))) == 9
    assert main(["validate", str(tmp_path / "stac"), "--schemas", str(schemas_dir)]) == 0
    assert main(["run", "--config", str(config), "--steps", "index,nope"]) == 2


def test_lock_serializes_two_processes(demo, tmp_path) -> None:
    config = _config_file(demo, tmp_path)
    catalog = tmp_path / "stac"
    command = [sys.executable, "-m", "sen2val_stac", "run", "--config", str(config), "--steps", "index"]
    # The first run does the whole chain, so it holds the lock long enough for the others to meet it.
    first = subprocess.Popen(command[:-2], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = catalog / ".sen2val" / "lock"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the holder writes its pid into the lock file once it has it
        if lock.exists() and lock.read_text().strip() == str(first.pid):
            break
        time.sleep(0.01)
    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 3 and "locked by another run" in second.stderr
    waiting = subprocess.Popen(command + ["--wait", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_out, _ = first.communicate(timeout=120)
    first_done = time.monotonic()
    waited_out, _ = waiting.communicate(timeout=120)
    assert first.returncode == 0 and waiting.returncode == 0
    assert "added 30" in first_out and "added 0" in waited_out and time.monotonic() >= first_done

    killed = subprocess.Popen(command + ["--wait", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    with catalog_lock(str(catalog), wait=5):  # the kernel released it: no stale lock
        pass
    assert os.path.isfile(catalog / "catalog.json")
