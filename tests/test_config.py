"""Configuration: the example init-config writes never drifts from the defaults; every error names key and file."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sen2val_stac.cli import build_parser, main
from sen2val_stac.commands.init_config import example_config
from sen2val_stac.config import FREE_MAPPINGS, ConfigError, defaults, load_config

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user-guide.md"


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a YAML document; list items' keys as ``key[].sub``; free mappings not entered."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            dotted = f"{prefix}{key}"
            out.add(dotted)
            if dotted not in FREE_MAPPINGS:
                out |= key_paths(sub, dotted + ".")
    elif isinstance(value, list):
        for element in value:
            out |= key_paths(element, prefix.rstrip(".") + "[].")
    return out


def test_key_paths_sees_nested_and_list_keys() -> None:
    doc = {"a": 1, "b": {"c": None}, "contacts": [{"id": "x", "roles": []}], "doi": {"NDVI": "10.1/x"}}
    assert key_paths(doc) == {"a", "b", "b.c", "contacts", "contacts[].id", "contacts[].roles", "doi"}


def test_example_covers_every_default_key() -> None:
    """The example written by init-config has exactly the keys of the CURRENT defaults (at every depth)."""
    example, current = key_paths(yaml.safe_load(example_config())), key_paths(defaults())
    assert not current - example, f"keys missing from catalog_templates/sen2val.example.yaml: {sorted(current - example)}"
    assert not example - current, f"keys in the example but not in config-defaults.yaml: {sorted(example - current)}"


def test_example_loads_with_the_defaults_types(tmp_path) -> None:
    path = tmp_path / "sen2val.yaml"
    path.write_text(example_config(), encoding="utf-8")
    config = load_config(path)
    assert config["indices_dir"] == "/DATA/S2/PRODUCTS/INDICES"
    assert config["catalog_dir"] == str(tmp_path / "stac")  # relative to the file
    assert config["run"]["steps"] == ["index", "footprints", "netcdf", "geoflow", "metadata"]
    assert config["_path"] == str(path)


def test_init_config_writes_and_refuses_to_overwrite(tmp_path, capsys) -> None:
    path = tmp_path / "conf" / "sen2val.yaml"
    assert main(["init-config", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == example_config()
    path.write_text("workers: 2\n")
    assert main(["init-config", str(path)]) == 1
    assert "exists (use --force" in capsys.readouterr().err
    assert path.read_text() == "workers: 2\n"
    assert main(["init-config", str(path), "--force"]) == 0
    assert path.read_text(encoding="utf-8") == example_config()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize(("text", "key", "reason"), [
    ("catalogue_dir: x\n", "catalogue_dir", "unknown key"),
    ("footprint:\n  read_sise: 3\n", "footprint.read_sise", "unknown key"),
    ("geoflow:\n  actions:\n    ftp: true\n", "geoflow.actions.ftp", "unknown key"),
    ("workers: many\n", "workers", "must be int"),
    ("footprint:\n  simplify_m: fine\n", "footprint.simplify_m", "must be int"),
    ("footprint: 3\n", "footprint", "must be a mapping"),
    ("netcdf:\n  chunks: 5\n", "netcdf.chunks", "must be list"),
    ("netcdf:\n  catalogue: 'yes'\n", "netcdf.catalogue", "must be bool"),
    ("indices_dir: 12\n", "indices_dir", "must be str"),
])
def test_config_errors_name_key_and_file(tmp_path, text, key, reason) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and f"'{key}'" in message and reason in message


@pytest.mark.parametrize(("text", "reason"), [
    ("a: [\n", "not valid YAML"),
    ("- a\n- b\n", "the top level must be a mapping"),
])
def test_unreadable_config_names_the_file(tmp_path, text, reason) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {reason}")):
        load_config(path)


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'missing.yaml'}: cannot read")):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("text", "expected"), [
    ("workers: many\n", "key 'workers'"),
    ("indices_dir: {d}/nowhere\ncatalog_dir: {d}/stac\n", "key 'indices_dir'"),
    ("catalog_dir: {d}/stac\n", "key 'indices_dir' is required"),
    ("indices_dir: {d}\ncatalog_dir: {d}/stac\nrun:\n  steps: [index, publish]\n", "key 'run.steps'"),
])
def test_run_reports_config_errors_with_key_and_file(tmp_path, capsys, text, expected) -> None:
    path = tmp_path / "sen2val.yaml"
    path.write_text(text.format(d=tmp_path))
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err
    assert not (tmp_path / "stac").exists()  # refused before taking the lock or writing anything


def test_run_rejects_unknown_steps_option(tmp_path, capsys) -> None:
    path = tmp_path / "sen2val.yaml"
    path.write_text(f"indices_dir: {tmp_path}\ncatalog_dir: {tmp_path}/stac\n")
    assert main(["run", "--config", str(path), "--steps", "index,nope"]) == 2
    assert "--steps: unknown step(s) 'nope'" in capsys.readouterr().err


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _guide_section(text: str, command: str) -> str:
    match = re.search(rf"^### `sen2val-stac {re.escape(command)}`\n(.*?)(?=^### |^## |\Z)", text, re.M | re.S)
    assert match, f"docs/user-guide.md has no section for `sen2val-stac {command}`"
    return match.group(1)


def test_user_guide_documents_every_command_and_option() -> None:
    """Regenerate with: python scripts/make_docs_figures.py --text-only."""
    text = GUIDE.read_text(encoding="utf-8")
    for name, parser in _subcommands().items():
        section = _guide_section(text, name)
        for action in parser._actions:
            for option in action.option_strings:
                assert option in section, (f"docs/user-guide.md: `sen2val-stac {name}` lacks {option}; regenerate: "
                                           "python scripts/make_docs_figures.py --text-only")


def test_user_guide_config_reference_is_the_example() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"<!-- config-example:start -->\n```yaml\n(.*?)```\n<!-- config-example:end -->", text, re.S)
    assert match and match.group(1) == example_config(), "regenerate: python scripts/make_docs_figures.py --text-only"
