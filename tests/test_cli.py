"""The command line: fast start (no heavy module imported to build the parser), one error path, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sen2val_stac.cli import main
from sen2val_stac.core.errors import InputError, NothingDone, Sen2valError
from sen2val_stac.core.lock import CatalogLocked

# What `sen2val-stac --help` must not import: each costs 0.2-1.5 s of start-up.
HEAVY = ["dask", "distributed", "stackstac", "xarray", "geopandas", "pandas", "pyarrow", "rasterio", "netCDF4",
         "pystac", "shapely", "pyproj", "fastapi", "uvicorn", "lxml", "jsonschema", "stac_valid",
         "pydantic", "pypgstac", "psycopg"]


def test_help_imports_no_heavy_module() -> None:
    code = ("import sys, json\nfrom sen2val_stac.cli import build_parser\nbuild_parser()\n"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [], "imported while building the parser (move the import into run())"


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    listing = capsys.readouterr().out
    for command in ("demo", "index", "validate", "query", "footprints", "geoflow", "metadata", "netcdf", "serve",
                    "init-config", "run"):
        assert command in listing


def test_errors_carry_their_exit_status() -> None:
    assert issubclass(InputError, Sen2valError) and InputError("x").exit_code == 2
    assert NothingDone("x").exit_code == 1
    assert CatalogLocked("x").exit_code == 3


def test_error_printed_once_with_its_status(demo, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["query", str(demo[0]), "--start", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "yesterday" in err
    assert main(["footprints", str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "nope.yaml" in err
    assert main(["query", str(tmp_path)]) == 2  # not a catalogue: the OSError names the file
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "catalog.json" in err


def test_public_api_resolves_lazily_with_docstrings() -> None:
    code = ("import sys, json, sen2val_stac as s\n"
            f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
            "docs = {n: bool(getattr(s, n).__doc__) for n in s.__all__ if n != '__version__'}\n"
            "print(json.dumps([heavy, docs]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    heavy, docs = json.loads(out)
    assert heavy == [], "import sen2val_stac must stay light"
    assert docs and all(docs.values()), docs


def test_readme_command_table_is_the_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """README's command table is the one generated from the parser (usage line and help of every command)."""
    monkeypatch.setenv("COLUMNS", "100")  # the generator sets it: restored after the test
    import importlib.util
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("make_docs_figures", repo / "scripts" / "make_docs_figures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (repo / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- commands:start -->\n", 1)[1].split("<!-- commands:end -->", 1)[0]
    assert block == module.command_table(), "regenerate: python scripts/make_docs_figures.py --text-only"
    for command in ("serve", "validate", "pgstac load", "pgstac migrate", "cog", "run"):
        assert f"`sen2val-stac {command} " in block
